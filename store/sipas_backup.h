/*
 * sipas_backup.h - a consistent, compacted copy of a store, taken while
 * the daemons run (sipas-admin backup).
 *
 * LMDB copies from one read transaction: the copy holds one committed
 * state, no writer waits for it, and free pages are left out (compacted).
 * The copy is written to a hidden temporary file in the destination
 * folder, fsync'd, then renamed to data.mdb and the folder fsync'd: a
 * crash during a backup never leaves a partial data.mdb. The result is a
 * store folder: point --store at it (or copy it back) to restore.
 */
#ifndef SIPAS_BACKUP_H
#define SIPAS_BACKUP_H

#include <stdint.h>
#include "sipas_err.h"
#include "sipas_store.h"

/* The temporary file, left behind only by a crash during a backup. */
#define SIPAS_BACKUP_PARTIAL ".data.mdb.partial"

/* What was written, read back from the copy. */
typedef struct sipas_backup_info {
	uint64_t bytes;           /* size of the copy's data.mdb */
	uint64_t responses;       /* stored responses in the copy */
	uint64_t last_response;   /* number of the last one (0: none) */
	uint64_t quarantined;     /* quarantine entries in the copy */
	uint64_t campaigns;       /* defined campaigns */
	/* The source's last committed transaction when the copy began and
	 * when it ended: the copy holds the state of one transaction in
	 * txn_first..txn_last (the same number when nothing was committed
	 * during the copy). A compacted copy numbers its own state anew. */
	uint64_t txn_first, txn_last;
} sipas_backup_info;

/*
 * Copy s into folder `dest`, which must not exist (it is created, with its
 * parents) or be empty. *info (may be NULL) receives what was written.
 * SIPAS_E_USAGE when dest is not a folder or not empty; SIPAS_E_IO and
 * SIPAS_E_STORE with the system or LMDB text in diag. On failure no
 * data.mdb is left in dest.
 */
SIPAS_MUST_CHECK sipas_err sipas_backup_write(sipas_store *s, const char *dest,
					      sipas_backup_info *info,
					      sipas_diag *diag);

#endif
