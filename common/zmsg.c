/*
 * zmsg.c - read one whole ZeroMQ message (see sipas_zmsg.h).
 */
#include "sipas_zmsg.h"

bool sipas_zmsg_recv(void *sock, zmq_msg_t *parts, int max, int *np,
		     bool *extra)
{
	bool more = true;

	*np = 0;
	*extra = false;
	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		/* The frames of one message arrive together, so only the
		 * first read can find the socket empty. */
		if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		if (*np < max) {
			parts[(*np)++] = m;
		} else {
			zmq_msg_close(&m);
			*extra = true;
		}
	}
	return *np > 0;
}

void sipas_zmsg_close(zmq_msg_t *parts, int np)
{
	for (int i = 0; i < np; i++)
		zmq_msg_close(&parts[i]);
}
