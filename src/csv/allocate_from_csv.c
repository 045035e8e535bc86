/*-------------------------------------------------------------------------
 *
 * allocate_from_csv.c
 *	  allocate-from-csv FOLDER: the allocation core and service layer of
 *	  the extension over CSV files, without a database (the book's
 *	  Appendix C).
 *
 *	  Reads FOLDER/batches.csv (ref,sku,qty,eta), FOLDER/allocations.csv
 *	  (orderid,sku,qty,batchref; the state, if present) and
 *	  FOLDER/orders.csv (orderid,sku,qty), allocates the order lines in
 *	  file order with al_svc_allocate, and rewrites allocations.csv with
 *	  the rows it had followed by the new ones.
 *
 * Notes:
 *	1) Each batch is added with al_svc_add_batch and each order line
 *	   allocated with al_svc_allocate, one command at a time in file
 *	   order, exactly what a client of the extension calling add_batch
 *	   and allocate would do: every rule comes from src/core and
 *	   src/service, none is restated here.  This file only checks
 *	   arguments (with the extension's messages) and moves data between
 *	   files and the store.
 *	2) Exit status: 0 every order line is allocated (now or before);
 *	   1 some lines are out of stock (reported, left out); 2 some lines
 *	   were refused (an invalid value, an unknown SKU, or a line already
 *	   allocated with another quantity: reported, left out; wins over 1);
 *	   3 an input file is missing, malformed or inconsistent, and nothing
 *	   was written; 4 allocations.csv could not be written (the old one
 *	   is intact); 64 bad usage.
 *	3) A problem in batches.csv or allocations.csv stops the run before
 *	   anything is decided: without the stock, no decision can be right.
 *	   A problem in one line of orders.csv refuses that line only, as a
 *	   failed allocate() leaves the other statements of a session alone;
 *	   a syntax error anywhere stops the run.
 *	4) allocations.csv is replaced atomically: a temporary file in the
 *	   same folder is written, fsync'ed, renamed over it, and the folder
 *	   is fsync'ed.  A run that is killed leaves the old file (and at
 *	   worst a stale .allocations.csv.PID.tmp).  When there is nothing
 *	   new, the file is not touched at all (rule 4: a rerun changes
 *	   nothing).  Runs on one folder are serialized with flock on it.
 *
 * src/csv/allocate_from_csv.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE

#include "csv_reader.h"
#include "csv_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_ALL_ALLOCATED	0
#define EXIT_OUT_OF_STOCK	1
#define EXIT_REFUSED		2
#define EXIT_BAD_INPUT		3
#define EXIT_WRITE_FAILED	4
#define EXIT_USAGE			64


/*
 * v as an error shows a caller's value (al_show_value: quoted, escaped,
 * cut), as the extension's messages do; three buffers, for the values of
 * one message.
 */
static const char *
shown_value(const char *v)
{
	static char bufs[3][AL_SHOWN_SIZE];
	static int	next;
	char	   *b = bufs[next++ % 3];

	al_show_value(v, strlen(v), b);
	return b;
}

static const char *progname = "allocate-from-csv";

/* The temporary file being written, removed if a signal stops the run. */
static char tmp_path[PATH_MAX];
static volatile sig_atomic_t tmp_exists = 0;

/* Print "allocate-from-csv: " and the message to stderr. */
static void
report(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Report a file error with its position, if any. */
static void
report_file_error(const csv_file *f, const char *path, const csv_error *err)
{
	(void) f;
	if (err->line > 0 && err->col > 0)
		report("%s:%d:%d: %s", path, err->line, err->col, err->message);
	else if (err->line > 0)
		report("%s:%d: %s", path, err->line, err->message);
	else
		report("%s: %s", path, err->message);
}

/* ---- value checks, worded as the extension's (src/entry/errors.c) ------- */

/* Check an identifier field; false with the extension's message. */
static bool
check_identifier(const csv_file *f, const csv_field *fld, const char *name,
				 csv_error *err)
{
	switch (al_check_identifier(fld->s, fld->len))
	{
		case AL_IDENT_OK:
			return true;
		case AL_IDENT_EMPTY:
			csv_field_error(err, f, fld, "%s must not be empty", name);
			break;
		case AL_IDENT_BLANK:
			csv_field_error(err, f, fld, "%s must not be blank", name);
			break;
		case AL_IDENT_TOO_LONG:
			csv_field_error(err, f, fld, "%s is too long (%zu characters)",
							name, al_utf8_length(fld->s, fld->len));
			break;
		case AL_IDENT_BAD_ENCODING:
			csv_field_error(err, f, fld, "%s must be valid UTF-8", name);
			break;
		case AL_IDENT_CONTROL_CHAR:
			csv_field_error(err, f, fld,
							"%s must not contain control characters", name);
			break;
	}
	return false;
}

/* The field as a C string for a message (cut, control characters shown). */
static const char *
shown(const csv_field *fld, char *buf, size_t size)
{
	size_t		o = 0;

	for (size_t i = 0; i < fld->len && o + 5 < size; i++)
	{
		unsigned char c = (unsigned char) fld->s[i];

		if (c < 0x20 || c == 0x7F)
			o += (size_t) snprintf(buf + o, size - o, "\\x%02X", c);
		else
			buf[o++] = (char) c;
	}
	buf[o] = '\0';
	return buf;
}

/*
 * Parse an integer as PostgreSQL's integer input does: blanks around it,
 * an optional sign, decimal digits, within 32 bits.
 */
static bool
parse_int32(const csv_file *f, const csv_field *fld, int32_t *out,
			csv_error *err)
{
	const char *s = fld->s;
	const char *end = fld->s + fld->len;
	bool		neg = false;
	int64_t		v = 0;
	bool		digits = false;
	char		buf[128];

	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
					   *s == '\f' || *s == '\v'))
		s++;
	if (s < end && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	while (s < end && *s >= '0' && *s <= '9')
	{
		digits = true;
		if (v <= (int64_t) INT32_MAX + 1)
			v = v * 10 + (*s - '0');
		s++;
	}
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
					   *s == '\f' || *s == '\v'))
		s++;
	if (!digits || s != end)
	{
		csv_field_error(err, f, fld,
						"invalid input syntax for type integer: \"%s\"",
						shown(fld, buf, sizeof(buf)));
		return false;
	}
	if (neg)
		v = -v;
	if (v > INT32_MAX || v < INT32_MIN)
	{
		csv_field_error(err, f, fld,
						"value \"%s\" is out of range for type integer",
						shown(fld, buf, sizeof(buf)));
		return false;
	}
	*out = (int32_t) v;
	return true;
}

/* Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * Parse an eta: empty (warehouse stock) or YYYY-MM-DD, into days since
 * 2000-01-01 as PostgreSQL's date.
 */
static bool
parse_eta(const csv_file *f, const csv_field *fld, bool *has_eta,
		  int32_t *eta, csv_error *err)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *s = fld->s;
	int			y,
				m,
				d;
	char		buf[128];

	if (fld->len == 0)
	{
		*has_eta = false;
		*eta = 0;
		return true;
	}
	for (size_t i = 0; i < fld->len; i++)
		if (fld->len != 10 || ((i == 4 || i == 7) ? s[i] != '-' : (s[i] < '0' || s[i] > '9')))
		{
			csv_field_error(err, f, fld,
							"invalid input syntax for type date: \"%s\" (expected YYYY-MM-DD)",
							shown(fld, buf, sizeof(buf)));
			return false;
		}
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
		(m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
	{
		csv_field_error(err, f, fld,
						"date/time field value out of range: \"%s\"",
						shown(fld, buf, sizeof(buf)));
		return false;
	}
	*has_eta = true;
	*eta = (int32_t) (days_from_civil(y, m, d) - days_from_civil(2000, 1, 1));
	return true;
}

/* ---- headers ----------------------------------------------------------- */

/*
 * Map the header's columns to the expected names: pos[i] is the field
 * index of names[i].  Any order is accepted; each name exactly once,
 * nothing else.
 */
static bool
read_header(const csv_file *f, const csv_record *rec, const char *const *names,
			int n, int *pos, csv_error *err)
{
	char		buf[128];
	char		expected[128] = "";

	for (int i = 0; i < n; i++)
	{
		pos[i] = -1;
		strcat(expected, i ? "," : "");
		strcat(expected, names[i]);
	}
	for (int k = 0; k < rec->nfields; k++)
	{
		const csv_field *fld = &rec->fields[k];
		int			i;

		for (i = 0; i < n; i++)
			if (strlen(names[i]) == fld->len &&
				memcmp(names[i], fld->s, fld->len) == 0)
				break;
		if (i == n)
		{
			csv_field_error(err, f, fld,
							"unknown column \"%s\" (the header is %s)",
							shown(fld, buf, sizeof(buf)), expected);
			return false;
		}
		if (pos[i] >= 0)
		{
			csv_field_error(err, f, fld, "column \"%s\" appears twice",
							names[i]);
			return false;
		}
		pos[i] = k;
	}
	for (int i = 0; i < n; i++)
		if (pos[i] < 0)
		{
			err->line = rec->line;
			err->col = 0;
			snprintf(err->message, sizeof(err->message),
					 "column \"%s\" is missing (the header is %s)",
					 names[i], expected);
			return false;
		}
	return true;
}

/* A data record must have as many fields as the header. */
static bool
check_width(const csv_file *f, const csv_record *rec, int n, csv_error *err)
{
	if (rec->nfields == n)
		return true;
	if (rec->nfields > n)
		csv_field_error(err, f, &rec->fields[n],
						"%d fields where the header has %d", rec->nfields, n);
	else
	{
		const csv_field *last = &rec->fields[rec->nfields - 1];

		err->line = rec->line;
		err->col = 0;
		csv_field_error(err, f, last, "%d fields where the header has %d",
						rec->nfields, n);
		/* point just past the last field */
		err->col += csv_column(f, last->raw_start, last->raw_end) - 1;
	}
	return false;
}

/* ---- batches.csv --------------------------------------------------------- */

static const char *const BATCH_COLUMNS[] = {"ref", "sku", "qty", "eta"};

typedef struct load_ctx
{
	csv_store  *store;
	int			pos[4];
} load_ctx;

static bool
batch_record(void *arg, const csv_file *f, const csv_record *rec,
			 csv_error *err)
{
	load_ctx   *lc = arg;
	const csv_field *ref,
			   *sku,
			   *qty,
			   *eta;
	int32_t		q;
	bool		has_eta;
	int32_t		days;
	al_service	svc;
	al_result	r;
	char	   *refs,
			   *skus;

	if (rec->index == 0)
		return read_header(f, rec, BATCH_COLUMNS, 4, lc->pos, err);
	if (!check_width(f, rec, 4, err))
		return false;
	ref = &rec->fields[lc->pos[0]];
	sku = &rec->fields[lc->pos[1]];
	qty = &rec->fields[lc->pos[2]];
	eta = &rec->fields[lc->pos[3]];
	if (!check_identifier(f, ref, "ref", err) ||
		!check_identifier(f, sku, "sku", err) ||
		!parse_int32(f, qty, &q, err) ||
		!parse_eta(f, eta, &has_eta, &days, err))
		return false;
	if (!al_batch_qty_valid(q))
	{
		csv_field_error(err, f, qty, "invalid quantity %d for a batch", q);
		return false;
	}
	csv_store_service(&svc, lc->store);
	refs = csv_arena_strndup(&lc->store->call, ref->s, ref->len);
	skus = csv_arena_strndup(&lc->store->call, sku->s, sku->len);
	r = al_svc_add_batch(&svc, refs, skus, q, has_eta, days);
	if (r.status == AL_DUPLICATE_BATCH)
	{
		csv_field_error(err, f, ref, "batch reference %s already exists",
						shown_value(refs));
		return false;
	}
	if (r.status != AL_OK)
	{
		csv_field_error(err, f, ref, "cannot add batch %s: %s", shown_value(refs),
						al_status_name(r.status));
		return false;
	}
	lc->store->batches.items[csv_store_batch(lc->store, refs)].file_line = rec->line;
	return true;
}

/* ---- allocations.csv (the state) ----------------------------------------- */

static const char *const ALLOC_COLUMNS[] = {"orderid", "sku", "qty", "batchref"};

static bool
allocation_record(void *arg, const csv_file *f, const csv_record *rec,
				  csv_error *err)
{
	load_ctx   *lc = arg;
	csv_store  *st = lc->store;
	const csv_field *orderid,
			   *sku,
			   *qty,
			   *batchref;
	int32_t		q;
	char	   *o,
			   *s,
			   *b;
	int			bi;
	csv_batch  *batch;
	const char *batch_sku;

	if (rec->index == 0)
		return read_header(f, rec, ALLOC_COLUMNS, 4, lc->pos, err);
	if (!check_width(f, rec, 4, err))
		return false;
	orderid = &rec->fields[lc->pos[0]];
	sku = &rec->fields[lc->pos[1]];
	qty = &rec->fields[lc->pos[2]];
	batchref = &rec->fields[lc->pos[3]];
	if (!check_identifier(f, orderid, "orderid", err) ||
		!check_identifier(f, sku, "sku", err) ||
		!parse_int32(f, qty, &q, err) ||
		!check_identifier(f, batchref, "batchref", err))
		return false;
	if (!al_line_qty_valid(q))
	{
		csv_field_error(err, f, qty, "invalid quantity %d for an order line", q);
		return false;
	}
	csv_arena_reset(&st->call);
	o = csv_arena_strndup(&st->call, orderid->s, orderid->len);
	s = csv_arena_strndup(&st->call, sku->s, sku->len);
	b = csv_arena_strndup(&st->call, batchref->s, batchref->len);
	bi = csv_store_batch(st, b);
	if (bi < 0)
	{
		csv_field_error(err, f, batchref,
						"unknown batch reference %s (not in batches.csv)", shown_value(b));
		return false;
	}
	batch = &st->batches.items[bi];
	batch_sku = st->products.items[batch->product].sku;
	if (strcmp(batch_sku, s) != 0)
	{
		csv_field_error(err, f, batchref,
						"batch %s holds sku %s, not %s", shown_value(b),
						shown_value(batch_sku), shown_value(s));
		return false;
	}
	{
		int			li = csv_store_line(st, o, s);

		if (li >= 0 && st->lines.items[li].batch >= 0)
		{
			csv_field_error(err, f, orderid,
							"order line %s of sku %s is allocated twice",
							shown_value(o), shown_value(s));
			return false;
		}
	}
	if ((int64_t) batch->allocated + q > batch->purchased)
	{
		csv_field_error(err, f, qty,
						"batch %s cannot hold this line: %d of its %d are allocated already",
						shown_value(b), batch->allocated, batch->purchased);
		return false;
	}
	csv_store_restore(st, o, bi, q);
	return true;
}

/* ---- orders.csv ----------------------------------------------------------- */

static const char *const ORDER_COLUMNS[] = {"orderid", "sku", "qty"};

/* One line of orders.csv: a command to run, or the reason it is refused. */
typedef struct order_req
{
	const char *orderid;
	const char *sku;
	int32_t		qty;
	int			line;
	const char *refused;		/* a message, with its position */
} order_req;

typedef struct orders_ctx
{
	csv_store  *store;
	csv_arena  *mem;
	int			pos[3];
	CSV_ARRAY(order_req) reqs;
} orders_ctx;

static char *
arena_printf(csv_arena *a, const char *fmt,...)
{
	va_list		ap;
	char		buf[1024];
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return csv_arena_strndup(a, buf, n < 0 ? 0 : (size_t) n >= sizeof(buf) ? sizeof(buf) - 1 : (size_t) n);
}

/* Append a zeroed request. */
static order_req *
push_req(orders_ctx *oc)
{
	order_req  *req;

	if (oc->reqs.count == oc->reqs.cap)
	{
		int			cap = oc->reqs.cap ? oc->reqs.cap * 2 : 1024;
		order_req  *grown = realloc(oc->reqs.items, sizeof(order_req) * (size_t) cap);

		if (grown == NULL)
			csv_out_of_memory();
		oc->reqs.items = grown;
		oc->reqs.cap = cap;
	}
	req = &oc->reqs.items[oc->reqs.count++];
	memset(req, 0, sizeof(*req));
	return req;
}

/* A SKU string shared by every line of the SKU (most SKUs repeat). */
static const char *
intern_sku(orders_ctx *oc, const csv_field *fld)
{
	char	   *tmp;
	int			pi;

	csv_arena_reset(&oc->store->call);
	tmp = csv_arena_strndup(&oc->store->call, fld->s, fld->len);
	pi = csv_store_product(oc->store, tmp);
	if (pi >= 0)
		return oc->store->products.items[pi].sku;
	return csv_arena_strndup(oc->mem, fld->s, fld->len);
}

static bool
order_record(void *arg, const csv_file *f, const csv_record *rec,
			 csv_error *err)
{
	orders_ctx *oc = arg;
	const csv_field *orderid,
			   *sku,
			   *qty;
	order_req  *req;
	csv_error	bad;
	int32_t		q = 0;

	if (rec->index == 0)
		return read_header(f, rec, ORDER_COLUMNS, 3, oc->pos, err);
	if (!check_width(f, rec, 3, err))
		return false;
	orderid = &rec->fields[oc->pos[0]];
	sku = &rec->fields[oc->pos[1]];
	qty = &rec->fields[oc->pos[2]];
	req = push_req(oc);
	req->line = rec->line;
	/* a refused line keeps its message, reported in turn (note 3) */
	if (!check_identifier(f, orderid, "orderid", &bad) ||
		!check_identifier(f, sku, "sku", &bad) ||
		!parse_int32(f, qty, &q, &bad))
	{
		req->refused = arena_printf(oc->mem, "%s:%d:%d: %s", f->path,
									bad.line, bad.col, bad.message);
		return true;
	}
	if (!al_line_qty_valid(q))
	{
		csv_field_error(&bad, f, qty, "invalid quantity %d for an order line", q);
		req->refused = arena_printf(oc->mem, "%s:%d:%d: %s", f->path,
									bad.line, bad.col, bad.message);
		return true;
	}
	req->orderid = csv_arena_strndup(oc->mem, orderid->s, orderid->len);
	req->sku = intern_sku(oc, sku);
	req->qty = q;
	return true;
}

/* ---- writing allocations.csv ---------------------------------------------- */

/* The header and every live row, new ones only if only_new. */
static void
format_rows(const csv_store *st, bool only_new, csv_buf *out)
{
	char		num[16];

	csv_buf_append(out, "orderid,sku,qty,batchref\n", 25);
	for (int i = 0; i < st->rows.count; i++)
	{
		const csv_alloc_row *r = &st->rows.items[i];

		if (r->deleted || (only_new && r->existing))
			continue;
		csv_buf_field(out, r->orderid);
		csv_buf_append(out, ",", 1);
		csv_buf_field(out, r->sku);
		snprintf(num, sizeof(num), ",%d,", r->qty);
		csv_buf_append(out, num, strlen(num));
		csv_buf_field(out, r->batchref);
		csv_buf_append(out, "\n", 1);
	}
}

static void
remove_tmp_on_signal(int sig)
{
	if (tmp_exists)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Replace folder/allocations.csv by content: temporary file, fsync,
 * rename, fsync of the folder (note 4).  On failure the old file is
 * intact and *why says what failed.
 */
static bool
write_atomically(const char *folder, int dirfd, const csv_buf *content,
				 char *why, size_t whysize)
{
	struct stat old;
	mode_t		mode = 0666;	/* less the umask, as any new file */
	bool		keep_mode = false;
	char		tmp_name[64];
	int			fd;
	size_t		done = 0;

	if (fstatat(dirfd, "allocations.csv", &old, 0) == 0)
	{
		mode = old.st_mode & 0777;	/* permission bits, never set-ID or sticky */
		keep_mode = true;
	}
	snprintf(tmp_name, sizeof(tmp_name), ".allocations.csv.%ld.tmp",
			 (long) getpid());
	snprintf(tmp_path, sizeof(tmp_path), "%s/%s", folder, tmp_name);
	/* a file of that name is left over by a killed run of the same pid */
	(void) unlinkat(dirfd, tmp_name, 0);
	fd = openat(dirfd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
	{
		snprintf(why, whysize, "cannot create %s: %s (%s/allocations.csv is unchanged)",
				 tmp_path, strerror(errno), folder);
		return false;
	}
	tmp_exists = 1;
	if (keep_mode && fchmod(fd, mode) != 0)
		goto fail;
	while (done < content->len)
	{
		ssize_t		n = write(fd, content->data + done, content->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t) n;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0)
	{
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp_name, dirfd, "allocations.csv") != 0)
		goto fail;
	tmp_exists = 0;
	/* the rename itself must reach the disk */
	if (fsync(dirfd) != 0)
	{
		snprintf(why, whysize, "cannot fsync folder %s: %s (allocations.csv is written, but a system crash could still undo it)",
				 folder, strerror(errno));
		return false;
	}
	return true;

fail:
	snprintf(why, whysize, "cannot write %s: %s (%s/allocations.csv is unchanged)",
			 tmp_path, strerror(errno), folder);
	if (fd >= 0)
		close(fd);
	(void) unlinkat(dirfd, tmp_name, 0);
	tmp_exists = 0;
	return false;
}

/* ---- --summary ------------------------------------------------------------- */

static void
print_summary(const csv_store *st, FILE *out)
{
	int		   *new_lines = calloc((size_t) st->batches.count + 1, sizeof(int));
	int64_t    *new_qty = calloc((size_t) st->batches.count + 1, sizeof(int64_t));
	csv_buf		b = {0};

	if (new_lines == NULL || new_qty == NULL)
		csv_out_of_memory();
	for (int i = 0; i < st->rows.count; i++)
	{
		const csv_alloc_row *r = &st->rows.items[i];
		int			bi;

		if (r->existing || r->deleted)
			continue;
		bi = csv_store_batch(st, r->batchref);
		new_lines[bi]++;
		new_qty[bi] += r->qty;
	}
	/* batches in the order of batches.csv, which is the order they were added */
	fputs("batch,sku,purchased,lines,allocated,available,new_lines,new_qty\n", out);
	for (int i = 0; i < st->batches.count; i++)
	{
		const csv_batch *bt = &st->batches.items[i];

		b.len = 0;
		csv_buf_field(&b, bt->ref);
		csv_buf_append(&b, ",", 1);
		csv_buf_field(&b, st->products.items[bt->product].sku);
		fprintf(out, "%s,%d,%d,%d,%d,%d,%lld\n", b.data, bt->purchased,
				bt->nlines, bt->allocated, bt->purchased - bt->allocated,
				new_lines[i], (long long) new_qty[i]);
	}
	fputs("\nsku,out_of_stock_lines,out_of_stock_qty\n", out);
	for (int i = 0; i < st->products.count; i++)
	{
		const csv_product *p = &st->products.items[i];

		if (p->out_of_stock_lines == 0)
			continue;
		b.len = 0;
		csv_buf_field(&b, p->sku);
		fprintf(out, "%s,%d,%lld\n", b.data, p->out_of_stock_lines,
				(long long) p->out_of_stock_qty);
	}
	csv_buf_free(&b);
	free(new_lines);
	free(new_qty);
}

/* ---- main ------------------------------------------------------------------- */

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: %s [--dry-run] [--summary] FOLDER\n"
			"\n"
			"Allocate the order lines of FOLDER/orders.csv (orderid,sku,qty) to the\n"
			"batches of FOLDER/batches.csv (ref,sku,qty,eta) and append the new\n"
			"allocations to FOLDER/allocations.csv (orderid,sku,qty,batchref), whose\n"
			"existing rows are the state.\n"
			"\n"
			"  --dry-run   print the allocations that would be added; write nothing\n"
			"  --summary   print lines allocated per batch and out-of-stock lines per SKU\n"
			"\n"
			"Exit status: 0 all allocated; 1 some lines out of stock; 2 some lines\n"
			"refused; 3 bad input, nothing written; 4 allocations.csv not written;\n"
			"64 bad usage.\n", progname);
}

/* Read FOLDER/name with fn; false (reported) when it is unusable. */
static bool
load_file(const char *folder, const char *name, bool optional, bool *present,
		  csv_record_fn fn, void *arg)
{
	char		path[PATH_MAX];
	csv_file	f;
	csv_error	err;
	bool		missing;
	bool		ok;
	bool		blank;

	snprintf(path, sizeof(path), "%s/%s", folder, name);
	*present = false;
	if (!csv_load(&f, path, &missing, &err))
	{
		if (missing && optional)
			return true;
		report_file_error(NULL, path, &err);
		return false;
	}
	f.path = path;
	/* empty lines are skipped: a file of them alone has no header either */
	blank = true;
	for (size_t i = f.bom; i < f.size && blank; i++)
	{
		/* LF or CRLF; a CR alone is the reader's error to report */
		if (f.data[i] == '\r' && i + 1 < f.size && f.data[i + 1] == '\n')
			i++;
		else
			blank = f.data[i] == '\n';
	}
	if (blank)
		f.size = f.bom;
	if (f.size == f.bom && optional)
	{
		/* an empty optional file (made by touch, say) is one with no rows */
		csv_file_free(&f);
		return true;
	}
	*present = true;
	if (f.size == f.bom)
	{
		report("%s: the file is empty (it needs a header line)", path);
		csv_file_free(&f);
		return false;
	}
	ok = csv_parse(&f, fn, arg, &err);
	if (!ok)
		report_file_error(&f, path, &err);
	csv_file_free(&f);
	return ok;
}

int
main(int argc, char **argv)
{
	bool		dry_run = false;
	bool		summary = false;
	const char *folder = NULL;
	int			dirfd;
	csv_store	st;
	load_ctx	lc;
	orders_ctx	oc;
	csv_arena	orders_mem = {0};
	bool		present;
	bool		had_allocations;
	int			out_of_stock = 0;
	int			refused = 0;
	int			new_rows = 0;
	int			status;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = true;
		else if (strcmp(argv[i], "--summary") == 0)
			summary = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			usage(stdout);
			return 0;
		}
		else if (strcmp(argv[i], "--") == 0 && i + 1 < argc && folder == NULL)
			folder = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
		{
			report("unknown option \"%s\"", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
		else if (folder == NULL)
			folder = argv[i];
		else
		{
			report("one FOLDER only");
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (folder == NULL)
	{
		usage(stderr);
		return EXIT_USAGE;
	}

	dirfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
	{
		report("cannot open folder %s: %s", folder, strerror(errno));
		return EXIT_BAD_INPUT;
	}
	/* one run at a time on a folder; a dry run only reads */
	if (flock(dirfd, dry_run ? LOCK_SH : LOCK_EX) != 0)
	{
		report("cannot lock folder %s: %s", folder, strerror(errno));
		return EXIT_BAD_INPUT;
	}

	csv_store_init(&st);
	memset(&lc, 0, sizeof(lc));
	lc.store = &st;
	if (!load_file(folder, "batches.csv", false, &present, batch_record, &lc))
		return EXIT_BAD_INPUT;
	memset(lc.pos, 0, sizeof(lc.pos));
	if (!load_file(folder, "allocations.csv", true, &had_allocations,
				   allocation_record, &lc))
		return EXIT_BAD_INPUT;
	memset(&oc, 0, sizeof(oc));
	oc.store = &st;
	oc.mem = &orders_mem;
	if (!load_file(folder, "orders.csv", false, &present, order_record, &oc))
		return EXIT_BAD_INPUT;

	/* every order line is one allocate command, in file order (note 1) */
	for (int i = 0; i < oc.reqs.count; i++)
	{
		const order_req *req = &oc.reqs.items[i];
		al_service	svc;
		al_result	r;

		if (req->refused)
		{
			fprintf(stderr, "%s: %s\n", progname, req->refused);
			refused++;
			continue;
		}
		csv_store_service(&svc, &st);
		r = al_svc_allocate(&svc, req->orderid, req->sku, req->qty);
		switch (r.status)
		{
			case AL_OK:
				break;
			case AL_OUT_OF_STOCK:
				/* rule 3: not an error; the line is left out */
				report("%s/orders.csv:%d: out of stock: order line %s of sku %s (qty %d) is not allocated",
					   folder, req->line, shown_value(req->orderid), shown_value(req->sku), req->qty);
				out_of_stock++;
				break;
			case AL_UNKNOWN_SKU:
				report("%s/orders.csv:%d: invalid sku %s (no batch of this SKU in batches.csv)",
					   folder, req->line, shown_value(req->sku));
				refused++;
				break;
			case AL_QTY_MISMATCH:
				report("%s/orders.csv:%d: order line %s of sku %s is already allocated with quantity %d (it cannot be allocated again with quantity %d)",
					   folder, req->line, shown_value(req->orderid), shown_value(req->sku),
					   r.existing_qty, req->qty);
				refused++;
				break;
			default:
				report("%s/orders.csv:%d: order line %s of sku %s: %s",
					   folder, req->line, shown_value(req->orderid), shown_value(req->sku),
					   al_status_name(r.status));
				refused++;
				break;
		}
	}
	for (int i = 0; i < st.rows.count; i++)
		if (!st.rows.items[i].existing && !st.rows.items[i].deleted)
			new_rows++;

	if (dry_run)
	{
		csv_buf		out = {0};

		format_rows(&st, true, &out);
		fwrite(out.data, 1, out.len, stdout);
		csv_buf_free(&out);
		if (summary)
			fputc('\n', stdout);
	}
	else if (new_rows > 0 || !had_allocations)
	{
		csv_buf		out = {0};
		char		why[PATH_MAX + 256];

		signal(SIGINT, remove_tmp_on_signal);
		signal(SIGTERM, remove_tmp_on_signal);
		signal(SIGHUP, remove_tmp_on_signal);
		format_rows(&st, false, &out);
		if (!write_atomically(folder, dirfd, &out, why, sizeof(why)))
		{
			report("%s", why);
			return EXIT_WRITE_FAILED;
		}
		csv_buf_free(&out);
	}
	if (summary)
		print_summary(&st, stdout);
	if (fflush(stdout) != 0)
	{
		report("cannot write to standard output: %s", strerror(errno));
		return EXIT_WRITE_FAILED;
	}

	status = refused ? EXIT_REFUSED : out_of_stock ? EXIT_OUT_OF_STOCK
		: EXIT_ALL_ALLOCATED;
	free(oc.reqs.items);
	csv_arena_free(&orders_mem);
	csv_store_free(&st);
	close(dirfd);
	return status;
}
