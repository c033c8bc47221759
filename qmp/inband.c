/*
 * QMP in-band commands without an "id". QEMU 7.2's monitor reads its
 * socket one byte per read (monitor_can_read() answers 1), and every byte
 * costs a read and a wake-up of its I/O thread: about 7 us on a 2-core
 * host, so the ten bytes of ,"id":1234 are a seventh of a query-status
 * round trip. The QMP specification makes "id" optional and QEMU answers
 * in-band commands one at a time, in the order it read them (only
 * out-of-band commands need an id to be matched), so a reply without an id
 * answers the oldest in-band command not yet answered. (QEMU 2.12 could
 * drop an in-band command with oob enabled; before 3.0 every command keeps
 * its id.)
 *
 * Each in-band command gets a sequence number when it is written; replies
 * advance s->ib_answered. A command sent with an id that timed out is kept
 * as a ghost (id and sequence number) until its late reply or a later one
 * shows QEMU is past it, so that reply still advances the count.
 */
#include <stdlib.h>
#include <string.h>

#include "qmp/session-internal.h"

/* Past this many timed-out commands still unanswered the monitor is not
 * answering at all; the session ends rather than guess. */
#define MAX_GHOSTS 1024
/* Bigger commands keep their id: its bytes are a small part of them. */
#define BARE_MAX 1024

/*
 * Printable ASCII only, and short: QEMU's parser cannot refuse such a
 * command (no UTF-8 to get wrong, nesting under its limit of 1024), so no
 * parse-error reply, which never has an id, can come from one of them in
 * place of an answer.
 */
int inband_bare_ok(const char *str, size_t len)
{
	if (len > BARE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)str[i] < 0x20 || (unsigned char)str[i] > 0x7e)
			return 0;
	return 1;
}

void inband_sent(struct qmp_session *s, struct cmd *c)
{
	c->inband = 1;
	c->seq = s->ib_sent++;
}

/* QEMU has answered every in-band command up to sequence number seq. */
static void advance(struct qmp_session *s, uint64_t seq)
{
	size_t j = 0;

	if (seq + 1 > s->ib_answered)
		s->ib_answered = seq + 1;
	for (size_t i = 0; i < s->nghosts; i++)
		if (s->ghosts[i].seq >= s->ib_answered)
			s->ghosts[j++] = s->ghosts[i];
	s->nghosts = j;
}

int inband_timed_out(struct qmp_session *s, const struct cmd *c)
{
	struct ghost *g;

	/* a bare command's late reply advances the count by itself */
	if (!c->inband || c->bare)
		return 0;
	if (s->nghosts == MAX_GHOSTS)
		return -1;
	if (s->nghosts == s->cap_ghosts) {
		size_t cap = s->cap_ghosts ? 2 * s->cap_ghosts : 8;
		if (!(g = realloc(s->ghosts, cap * sizeof(*g))))
			return -1;
		s->ghosts = g;
		s->cap_ghosts = cap;
	}
	s->ghosts[s->nghosts++] = (struct ghost){.id = c->id, .seq = c->seq};
	return 0;
}

static struct cmd *find_seq(struct qmp_session *s, uint64_t seq)
{
	struct cmd *c;

	TAILQ_FOREACH(c, &s->cmds, link)
	{
		if (c->sent && c->inband && c->seq == seq)
			break;
	}
	return c;
}

static struct cmd *find_id(struct qmp_session *s, int64_t id)
{
	struct cmd *c;

	TAILQ_FOREACH(c, &s->cmds, link)
	{
		if (c->sent && !c->bare && c->id == id)
			break;
	}
	return c;
}

struct cmd *inband_match(struct qmp_session *s, struct json_object *id)
{
	struct cmd *c;

	if (!id) {
		/* nothing of ours unanswered: QEMU's answer to something it
		 * could not parse, which we did not send */
		if (s->ib_answered == s->ib_sent)
			return NULL;
		c = find_seq(s, s->ib_answered);
		advance(s, s->ib_answered);
		return c; /* NULL: it timed out, this is its late reply */
	}
	if (!is_int(id))
		return NULL;
	if ((c = find_id(s, json_object_get_int64(id)))) {
		if (c->inband)
			advance(s, c->seq);
		return c;
	}
	for (size_t i = 0; i < s->nghosts; i++)
		if (s->ghosts[i].id == json_object_get_int64(id)) {
			advance(s, s->ghosts[i].seq);
			break;
		}
	return NULL;
}
