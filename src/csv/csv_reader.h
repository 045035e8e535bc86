/*-------------------------------------------------------------------------
 *
 * csv_reader.h
 *	  An RFC 4180 reader and writer for allocate-from-csv: quoted fields,
 *	  embedded commas, quotes and line breaks, CRLF or LF, a last line
 *	  with or without a line break.
 *
 * Notes:
 *	1) The reader is strict: a quote inside an unquoted field, anything
 *	   but a separator after a closing quote, a quoted field that never
 *	   closes and a carriage return without its line feed are errors that
 *	   name the line and the column (in characters, from 1) where they are.
 *	   Guessing what a broken file meant would allocate stock to the guess.
 *	2) Empty lines (outside quoted fields) are skipped, and a UTF-8 byte
 *	   order mark at the very start is ignored.
 *	3) The whole file is read into memory and never modified: a field
 *	   points into it, except a quoted field with doubled quotes, which is
 *	   unescaped into a scratch buffer that lives until the next record.
 *	   Callers copy what they keep.  Fields are not NUL-terminated: they
 *	   may contain NUL bytes, which the identifier check refuses.
 *
 * src/csv/csv_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CSV_READER_H
#define CSV_READER_H

#include <stdbool.h>
#include <stddef.h>

/* One field of the current record. */
typedef struct csv_field
{
	const char *s;
	size_t		len;
	int			line;			/* physical line of its first character */
	size_t		line_start;		/* offset of that line in the file */
	size_t		raw_start;		/* offset of the field (its quote, if any) */
	size_t		raw_end;		/* offset just past it */
	size_t		scratch_off;	/* private to the reader */
} csv_field;

typedef struct csv_record
{
	int			index;			/* 0 for the header */
	int			line;			/* physical line it starts on */
	int			nfields;
	csv_field  *fields;
} csv_record;

/* Where and why a file was refused. */
typedef struct csv_error
{
	int			line;
	int			col;			/* 0: the whole file (no position) */
	char		message[512];
} csv_error;

typedef struct csv_file
{
	const char *path;			/* as given, for messages */
	char	   *data;
	size_t		size;
	size_t		bom;			/* bytes of the byte order mark skipped */
} csv_file;

/* Called once a record; false (with *err filled) stops the reading. */
typedef bool (*csv_record_fn) (void *arg, const csv_file *f,
							   const csv_record *rec, csv_error *err);

/*
 * Read path into f.  Returns false with err->message when it cannot be
 * read; *missing says the file does not exist.
 */
extern bool csv_load(csv_file *f, const char *path, bool *missing,
					 csv_error *err);
extern void csv_file_free(csv_file *f);

/* Hand every record of f to fn; false with *err on the first problem. */
extern bool csv_parse(const csv_file *f, csv_record_fn fn, void *arg,
					  csv_error *err);

/* The column (in characters, from 1) of byte offset at of line line_start. */
extern int	csv_column(const csv_file *f, size_t line_start, size_t at);

/* Position err at field fld and format its message. */
extern void csv_field_error(csv_error *err, const csv_file *f,
							const csv_field *fld, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

/* A growable output buffer. */
typedef struct csv_buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} csv_buf;

extern void csv_buf_append(csv_buf *b, const char *s, size_t len);
/* Append one field, quoted when it holds a comma, quote, CR or LF. */
extern void csv_buf_field(csv_buf *b, const char *s);
extern void csv_buf_free(csv_buf *b);

/* Out of memory: print a message and exit (status 4). */
extern void csv_out_of_memory(void) __attribute__((noreturn));

#endif							/* CSV_READER_H */
