/*-------------------------------------------------------------------------
 *
 * order.c
 *	  The Order aggregate: business id, status state machine, e-mail
 *	  subscriptions (the contract: order tracking).
 *
 * src/core/order.c
 *
 *-------------------------------------------------------------------------
 */
#include "order.h"

#include <string.h>

static const char *const status_names[AL_ORDER__COUNT] = {
	[AL_ORDER_CREATED] = "created",
	[AL_ORDER_ALLOCATED] = "allocated",
	[AL_ORDER_BACKORDERED] = "backordered",
	[AL_ORDER_SHIPPED] = "shipped",
	[AL_ORDER_DELIVERED] = "delivered",
	[AL_ORDER_CANCELLED] = "cancelled",
};

/*
 * The allowed moves, and only those: created -> allocated | backordered |
 * cancelled; backordered -> allocated | cancelled; allocated -> shipped |
 * cancelled; shipped -> delivered.  Delivered and cancelled are final.
 */
static const bool allowed[AL_ORDER__COUNT][AL_ORDER__COUNT] = {
	[AL_ORDER_CREATED] = {
		[AL_ORDER_ALLOCATED] = true,
		[AL_ORDER_BACKORDERED] = true,
		[AL_ORDER_CANCELLED] = true,
	},
	[AL_ORDER_BACKORDERED] = {
		[AL_ORDER_ALLOCATED] = true,
		[AL_ORDER_CANCELLED] = true,
	},
	[AL_ORDER_ALLOCATED] = {
		[AL_ORDER_SHIPPED] = true,
		[AL_ORDER_CANCELLED] = true,
	},
	[AL_ORDER_SHIPPED] = {
		[AL_ORDER_DELIVERED] = true,
	},
};

const char *
al_order_status_name(al_order_status status)
{
	if ((int) status < 0 || status >= AL_ORDER__COUNT)
		return "unknown";
	return status_names[status];
}

bool
al_order_status_from_name(const char *name, al_order_status *status)
{
	for (int i = 0; i < AL_ORDER__COUNT; i++)
	{
		if (strcmp(status_names[i], name) == 0)
		{
			*status = (al_order_status) i;
			return true;
		}
	}
	return false;
}

bool
al_order_can_move(al_order_status from, al_order_status to)
{
	if ((int) from < 0 || from >= AL_ORDER__COUNT ||
		(int) to < 0 || to >= AL_ORDER__COUNT)
		return false;
	return allowed[from][to];
}

bool
al_order_id_valid(const char *orderid)
{
	const char *dash = strchr(orderid, '-');

	/* some '-' with a part before it and one after it, neither blank */
	while (dash != NULL)
	{
		al_ident_problem before = al_check_identifier(orderid, (size_t) (dash - orderid));
		al_ident_problem after = al_check_identifier(dash + 1, strlen(dash + 1));

		if (before != AL_IDENT_EMPTY && before != AL_IDENT_BLANK &&
			after != AL_IDENT_EMPTY && after != AL_IDENT_BLANK)
			return true;
		dash = strchr(dash + 1, '-');
	}
	return false;
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

/* RFC 5322 atext, the characters of a dot-atom local part besides dots. */
static bool
is_atext(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

bool
al_email_valid(const char *email)
{
	const char *at = strchr(email, '@');
	size_t		len = strlen(email);
	const char *domain;
	const char *label;
	const char *last_dot;
	size_t		local_len;

	if (at == NULL || strchr(at + 1, '@') != NULL || len > AL_EMAIL_MAX)
		return false;
	local_len = (size_t) (at - email);
	if (local_len == 0 || local_len > 64)
		return false;
	/* local part: dot-atom, no leading, trailing or double dot */
	if (email[0] == '.' || at[-1] == '.')
		return false;
	for (const char *p = email; p < at; p++)
	{
		if (*p == '.')
		{
			if (p[1] == '.')
				return false;
		}
		else if (!is_atext(*p))
			return false;
	}
	/* domain: labels of letters, digits and inner hyphens, with a dot */
	domain = at + 1;
	last_dot = strrchr(domain, '.');
	if (last_dot == NULL)
		return false;
	label = domain;
	for (const char *p = domain;; p++)
	{
		if (*p == '.' || *p == '\0')
		{
			size_t		n = (size_t) (p - label);

			if (n == 0 || n > 63 || label[0] == '-' || p[-1] == '-')
				return false;
			if (*p == '\0')
				break;
			label = p + 1;
		}
		else if (!is_alnum(*p) && *p != '-')
			return false;
	}
	/*
	 * The top-level domain has letters only, at least two, or is an
	 * internationalised one in its ASCII form ("xn--" and letters, digits,
	 * hyphens: .xn--p1ai is .рф); the label rules above hold for it too.
	 */
	if (strlen(last_dot + 1) < 2)
		return false;
	if ((last_dot[1] | 0x20) == 'x' && (last_dot[2] | 0x20) == 'n' &&
		last_dot[3] == '-' && last_dot[4] == '-')
		return strlen(last_dot + 1) > 4;
	for (const char *p = last_dot + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

char *
al_email_normalise(const al_allocator *mem, const char *email)
{
	char	   *copy = al_strdup(mem, email);

	for (char *p = copy; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char) (*p - 'A' + 'a');
	return copy;
}

void
al_order_init(al_order *o, const al_allocator *mem, const char *orderid,
			  al_order_status status, int64_t version)
{
	memset(o, 0, sizeof(*o));
	o->mem = mem;
	o->orderid = al_strdup(mem, orderid);
	o->status = status;
	o->version = version;
}

al_status
al_order_create(al_order *o, const al_allocator *mem, const char *orderid)
{
	al_event	ev = {0};

	if (!al_order_id_valid(orderid))
		return AL_INVALID_ARGUMENT;
	al_order_init(o, mem, orderid, AL_ORDER_CREATED, 0);
	o->is_new = true;
	o->changed = true;
	ev.type = AL_EV_ORDER_CREATED;
	ev.orderid = o->orderid;
	ev.status = al_order_status_name(AL_ORDER_CREATED);
	al_event_record(mem, &o->events, &ev);
	return AL_OK;
}

al_status
al_order_change_status(al_order *o, al_order_status to)
{
	al_event	ev = {0};

	if (!al_order_can_move(o->status, to))
		return AL_INVALID_TRANSITION;
	ev.type = AL_EV_ORDER_STATUS_CHANGED;
	ev.orderid = o->orderid;
	ev.status = al_order_status_name(to);
	ev.previous_status = al_order_status_name(o->status);
	al_event_record(o->mem, &o->events, &ev);
	o->status = to;
	o->changed = true;
	return AL_OK;
}

void
al_order_subscribe(al_order *o, const char *email)
{
	o->new_subscriber = al_email_normalise(o->mem, email);
}

void
al_order_mark_saved(al_order *o)
{
	if (o->changed)
		o->version++;
	o->changed = false;
	o->is_new = false;
	o->new_subscriber = NULL;
}

al_event_list
al_order_take_events(al_order *o)
{
	al_event_list taken = o->events;

	o->events.items = NULL;
	o->events.count = 0;
	o->events.cap = 0;
	return taken;
}
