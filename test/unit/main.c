/*-------------------------------------------------------------------------
 *
 * main.c
 *	  Runner of the unit tests of the domain core and the service layer:
 *	  no server, the ports are the in-memory fakes of fakes.c.  Prints TAP
 *	  (make unit runs it under prove) and exits non-zero on any failure.
 *
 * test/unit/main.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

int
main(void)
{
	test_validation();
	test_events();
	test_add_batch();
	test_allocate();
	test_deallocate();
	test_change_quantity();
	test_concurrency();
	test_orders();
	test_strmap();
	test_candidates();
	return done_testing();
}
