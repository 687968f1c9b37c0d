/*
 * sipas_zmsg.h - reading one whole ZeroMQ message, whatever a peer sends.
 *
 * Daemons expect a fixed number of frames but must survive peers that send
 * more: this keeps the first frames and reads and drops the rest, so the
 * socket is always left at a message boundary.
 */
#ifndef SIPAS_ZMSG_H
#define SIPAS_ZMSG_H

#include <stdbool.h>
#include <zmq.h>

/*
 * Read one message from sock without blocking. Its first `max` frames are
 * stored in parts[0..*np) (the caller closes them with sipas_zmsg_close);
 * any further frames are read, dropped, and *extra is set. Returns false
 * (and *np = 0) when no message was waiting.
 */
bool sipas_zmsg_recv(void *sock, zmq_msg_t *parts, int max, int *np,
		     bool *extra);

/* Close parts[0..np). */
void sipas_zmsg_close(zmq_msg_t *parts, int np);

#endif
