/*-------------------------------------------------------------------------
 *
 * tests.h
 *	  The test areas the runner (main.c) calls, one file each.
 *
 * test/unit/tests.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef UNIT_TESTS_H
#define UNIT_TESTS_H

#include "fakes.h"
#include "tap.h"

/* Dates as the core keeps them: days since 2000-01-01. */
#define TODAY		9000
#define TOMORROW	9001
#define LATER		9010

extern void test_validation(void);
extern void test_events(void);
extern void test_add_batch(void);
extern void test_allocate(void);
extern void test_deallocate(void);
extern void test_change_quantity(void);
extern void test_concurrency(void);
extern void test_orders(void);
extern void test_strmap(void);
extern void test_candidates(void);

#endif							/* UNIT_TESTS_H */
