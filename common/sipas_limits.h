/*
 * sipas_limits.h - every hard ceiling of sipas, in one place.
 *
 * Input larger than these is refused before anything is allocated for it
 * (style.md, "Hard ceilings"). The wire limits are part of the contract
 * (interfaces.md section 2); the others bound what a definition may declare
 * so that per-response work and per-unit counters have fixed sizes.
 */
#ifndef SIPAS_LIMITS_H
#define SIPAS_LIMITS_H

/* --- wire (contract) --- */
#define SIPAS_MAX_REQUEST 65536          /* bytes of one map frame or element */
#define SIPAS_MAX_ARRAY_REQUEST 1048576  /* bytes of an array frame */
#define SIPAS_MAX_BATCH 1000             /* maps in one array request */
#define SIPAS_ID_MIN 1                   /* response id length, bytes */
#define SIPAS_ID_MAX 64
#define SIPAS_MAX_COMMENT 2000           /* bytes of `comment` */
#define SIPAS_PROTOCOL_VERSION 1

/* --- per response (ours) --- */
#define SIPAS_MAX_ANSWERS 512      /* entries of `items` */
#define SIPAS_MAX_CODES 64         /* codes in one multi answer */
#define SIPAS_MAX_TEXT 256         /* bytes of any other string field */
#define SIPAS_MAX_DEPTH 8          /* msgpack nesting (legit requests use 4) */
#define SIPAS_ACK_DETAIL_MAX 200   /* bytes of an ack `detail` */
#define SIPAS_ACK_FIELD_MAX 96     /* bytes of an ack `field` */

/* --- survey definition (ours) --- */
#define SIPAS_MAX_DEFINITION (32u << 20) /* bytes of a definition file */
#define SIPAS_DEF_ID_MAX 64        /* any id in a definition */
#define SIPAS_DEF_TEXT_MAX 2000    /* any name, title or text */
#define SIPAS_MAX_FORMS 64
#define SIPAS_MAX_BLOCKS 10000
#define SIPAS_MAX_UNITS 100000
#define SIPAS_MAX_GROUPS 256       /* groups in one form, all levels */
#define SIPAS_MAX_GROUP_DEPTH 8
#define SIPAS_MAX_CRITERIA 512     /* criteria in one form */
/* Criteria plus items of one form: every criterion must be answered, so a
 * valid response of the largest form still fits SIPAS_MAX_ANSWERS. */
#define SIPAS_MAX_FORM_ENTRIES SIPAS_MAX_ANSWERS
#define SIPAS_MAX_SCALE_LEVELS 11  /* max - min + 1 of the answer scale */
#define SIPAS_MAX_WEIGHT 1e6       /* a group weight, relative to its siblings */
#define SIPAS_MAX_PATH 512         /* bytes of a group path "a/b/c" */

#endif
