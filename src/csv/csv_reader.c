/*-------------------------------------------------------------------------
 *
 * csv_reader.c
 *	  RFC 4180 reading and writing for allocate-from-csv (see csv_reader.h).
 *
 * Notes:
 *	1) csv_parse is a single pass over the bytes; a record's fields are
 *	   kept in an array reused for every record, so memory is the file plus
 *	   one record, whatever the number of lines.
 *	2) Columns are counted in characters (UTF-8 lead bytes) from the start
 *	   of the physical line, so an editor's "go to column" finds them.
 *
 * src/csv/csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "csv_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
csv_out_of_memory(void)
{
	fprintf(stderr, "allocate-from-csv: out of memory\n");
	exit(4);
}

bool
csv_load(csv_file *f, const char *path, bool *missing, csv_error *err)
{
	FILE	   *fp;
	size_t		cap = 1 << 16;
	size_t		n = 0;

	memset(f, 0, sizeof(*f));
	f->path = path;
	*missing = false;
	err->line = 0;
	err->col = 0;
	fp = fopen(path, "rb");
	if (fp == NULL)
	{
		*missing = (errno == ENOENT);
		snprintf(err->message, sizeof(err->message), "cannot open: %s",
				 strerror(errno));
		return false;
	}
	f->data = malloc(cap);
	if (f->data == NULL)
		csv_out_of_memory();
	for (;;)
	{
		size_t		got;

		if (n == cap)
		{
			char	   *grown;

			cap *= 2;
			grown = realloc(f->data, cap);
			if (grown == NULL)
				csv_out_of_memory();
			f->data = grown;
		}
		got = fread(f->data + n, 1, cap - n, fp);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(fp))
	{
		snprintf(err->message, sizeof(err->message), "cannot read: %s",
				 strerror(errno));
		fclose(fp);
		csv_file_free(f);
		return false;
	}
	fclose(fp);
	f->size = n;
	if (n >= 3 && memcmp(f->data, "\xEF\xBB\xBF", 3) == 0)
		f->bom = 3;
	return true;
}

void
csv_file_free(csv_file *f)
{
	free(f->data);
	f->data = NULL;
	f->size = 0;
}

int
csv_column(const csv_file *f, size_t line_start, size_t at)
{
	int			col = 1;

	for (size_t i = line_start; i < at && i < f->size; i++)
		if ((((const unsigned char *) f->data)[i] & 0xC0) != 0x80)
			col++;
	return col;
}

/* Fill err with a position and a formatted message. */
static void
set_error(csv_error *err, const csv_file *f, int line, size_t line_start,
		  size_t at, const char *fmt, va_list ap)
{
	err->line = line;
	err->col = csv_column(f, line_start, at);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

static void
parse_error(csv_error *err, const csv_file *f, int line, size_t line_start,
			size_t at, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	set_error(err, f, line, line_start, at, fmt, ap);
	va_end(ap);
}

void
csv_field_error(csv_error *err, const csv_file *f, const csv_field *fld,
				const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	set_error(err, f, fld->line, fld->line_start, fld->raw_start, fmt, ap);
	va_end(ap);
}

/* Room for one more field in the record's array. */
static csv_field *
next_field(csv_field **fields, int *cap, int n)
{
	if (n == *cap)
	{
		csv_field  *grown;

		*cap = *cap ? *cap * 2 : 8;
		grown = realloc(*fields, sizeof(csv_field) * (size_t) *cap);
		if (grown == NULL)
			csv_out_of_memory();
		*fields = grown;
	}
	return &(*fields)[n];
}

bool
csv_parse(const csv_file *f, csv_record_fn fn, void *arg, csv_error *err)
{
	const char *d = f->data;
	size_t		len = f->size;
	size_t		pos = f->bom;
	int			line = 1;
	size_t		line_start = f->bom;
	csv_field  *fields = NULL;
	int			fields_cap = 0;
	csv_buf		scratch = {0};
	int			index = 0;
	bool		ok = true;

	while (ok && pos < len)
	{
		csv_record rec;
		int			n = 0;
		bool		end_of_record = false;

		/* an empty line is no record */
		if (d[pos] == '\n' || (d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n'))
		{
			pos += d[pos] == '\r' ? 2 : 1;
			line++;
			line_start = pos;
			continue;
		}
		rec.line = line;
		scratch.len = 0;
		while (!end_of_record)
		{
			csv_field  *fld = next_field(&fields, &fields_cap, n);

			fld->line = line;
			fld->line_start = line_start;
			fld->raw_start = pos;
			if (pos < len && d[pos] == '"')
			{
				size_t		r = pos + 1;
				size_t		from = r;
				bool		escaped = false;
				size_t		mark = scratch.len;

				for (;;)
				{
					if (r >= len)
					{
						parse_error(err, f, fld->line, fld->line_start, pos,
									"quoted field is not closed before the end of the file");
						ok = false;
						break;
					}
					if (d[r] == '"')
					{
						if (r + 1 < len && d[r + 1] == '"')
						{
							/* a doubled quote stands for one */
							csv_buf_append(&scratch, d + from, r - from + 1);
							escaped = true;
							r += 2;
							from = r;
							continue;
						}
						break;
					}
					if (d[r] == '\n')
					{
						line++;
						line_start = r + 1;
					}
					r++;
				}
				if (!ok)
					break;
				if (escaped)
				{
					csv_buf_append(&scratch, d + from, r - from);
					/* scratch may still move: keep an offset until the end */
					fld->s = NULL;
					fld->len = scratch.len - mark;
					fld->scratch_off = mark;
				}
				else
				{
					fld->s = d + pos + 1;
					fld->len = r - pos - 1;
				}
				r++;			/* the closing quote */
				if (r < len && d[r] != ',' && d[r] != '\n' &&
					!(d[r] == '\r' && r + 1 < len && d[r + 1] == '\n'))
				{
					parse_error(err, f, line, line_start, r,
								d[r] == '"' ? "unexpected quote after the closing quote of a field"
								: "unexpected character after the closing quote of a field");
					ok = false;
					break;
				}
				fld->raw_end = r;
				pos = r;
			}
			else
			{
				size_t		r = pos;

				while (r < len && d[r] != ',' && d[r] != '\n' && d[r] != '\r' &&
					   d[r] != '"')
					r++;
				if (r < len && d[r] == '"')
				{
					parse_error(err, f, line, line_start, r,
								"quote inside an unquoted field (quote the whole field and double the quote)");
					ok = false;
					break;
				}
				if (r < len && d[r] == '\r' && !(r + 1 < len && d[r + 1] == '\n'))
				{
					parse_error(err, f, line, line_start, r,
								"carriage return not followed by a line feed");
					ok = false;
					break;
				}
				fld->s = d + pos;
				fld->len = r - pos;
				fld->raw_end = r;
				pos = r;
			}
			n++;
			/* the separator after the field */
			if (pos >= len)
				end_of_record = true;
			else if (d[pos] == ',')
			{
				pos++;
				/* a comma at the very end: one more, empty, field */
			}
			else
			{
				pos += d[pos] == '\r' ? 2 : 1;
				line++;
				line_start = pos;
				end_of_record = true;
			}
		}
		if (!ok)
			break;
		/* escaped fields now point into the scratch buffer, which is final */
		for (int i = 0; i < n; i++)
			if (fields[i].s == NULL)
				fields[i].s = scratch.data + fields[i].scratch_off;
		rec.index = index++;
		rec.nfields = n;
		rec.fields = fields;
		ok = fn(arg, f, &rec, err);
	}
	free(fields);
	csv_buf_free(&scratch);
	return ok;
}

void
csv_buf_append(csv_buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *grown;

		while (b->len + len + 1 > cap)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (grown == NULL)
			csv_out_of_memory();
		b->data = grown;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
csv_buf_field(csv_buf *b, const char *s)
{
	size_t		len = strlen(s);

	if (strpbrk(s, ",\"\r\n") == NULL)
	{
		csv_buf_append(b, s, len);
		return;
	}
	csv_buf_append(b, "\"", 1);
	for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1)
	{
		csv_buf_append(b, s, (size_t) (q - s) + 1);
		csv_buf_append(b, "\"", 1);
	}
	csv_buf_append(b, s, strlen(s));
	csv_buf_append(b, "\"", 1);
}

void
csv_buf_free(csv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
