/*
 * backup.c - a consistent, compacted copy of a store (see sipas_backup.h).
 */
#include "sipas_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_priv.h"

/*
 * Make `dest` ready: created (with its parents, mode 0750) when missing,
 * else it must be an empty folder. *created says whether it was made here
 * (then its parent is fsync'd with it).
 */
static sipas_err prepare(const char *dest, bool *created, sipas_diag *diag)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	size_t n = strlen(dest);

	*created = false;
	/* Room for DEST/.data.mdb.partial in a 4096-byte path. */
	if (n == 0 || n >= 4096 - sizeof "/" SIPAS_BACKUP_PARTIAL) {
		sipas_diag_set(diag, "backup folder name is empty or too long");
		return SIPAS_E_USAGE;
	}
	if (stat(dest, &st) != 0) {
		if (errno != ENOENT) {
			sipas_diag_set(diag, "%s: %s", dest, strerror(errno));
			return SIPAS_E_IO;
		}
		if (store_make_dirs(dest, diag) != SIPAS_OK)
			return SIPAS_E_IO;
		*created = true;
		return SIPAS_OK;
	}
	if (!S_ISDIR(st.st_mode)) {
		sipas_diag_set(diag, "%s: exists and is not a folder; give a new "
			       "or empty folder", dest);
		return SIPAS_E_USAGE;
	}
	d = opendir(dest);
	if (d == NULL) {
		sipas_diag_set(diag, "%s: %s", dest, strerror(errno));
		return SIPAS_E_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* Never mix a backup with other files, nor overwrite one. */
		sipas_diag_set(diag, "%s: not empty (holds %.200s); give a new "
			       "or empty folder", dest, de->d_name);
		closedir(d);
		return SIPAS_E_USAGE;
	}
	closedir(d);
	return SIPAS_OK;
}

static uint64_t last_txnid(sipas_store *s)
{
	MDB_envinfo info;

	mdb_env_info(s->env, &info);
	return info.me_last_txnid;
}

/* Count what the copy holds, by opening it read-only without a lock file
 * (no process knows this folder yet). Also proves the copy can be read. */
static sipas_err inspect(const char *dest, sipas_backup_info *info,
			 sipas_diag *diag)
{
	static const char *const names[] = {"responses", "quarantine",
					    "campaigns"};
	uint64_t n[3] = {0, 0, 0};
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_stat st;
	int rc;

	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, DB_COUNT + 4);
	if (rc == 0)
		rc = mdb_env_open(env, dest, MDB_RDONLY | MDB_NOLOCK, 0640);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	for (int i = 0; rc == 0 && i < 3; i++) {
		rc = mdb_dbi_open(txn, names[i], 0, &dbi);
		if (rc == 0)
			rc = mdb_stat(txn, dbi, &st);
		if (rc == 0)
			n[i] = st.ms_entries;
		if (rc == 0 && i == 0)
			rc = store_last_seq(txn, dbi, &info->last_response);
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	if (rc != 0) {
		sipas_diag_set(diag, "%s: the copy cannot be read: %s", dest,
			       mdb_strerror(rc));
		return SIPAS_E_STORE;
	}
	info->responses = n[0];
	info->quarantined = n[1];
	info->campaigns = n[2];
	return SIPAS_OK;
}

sipas_err sipas_backup_write(sipas_store *s, const char *dest,
			     sipas_backup_info *out, sipas_diag *diag)
{
	char tmp[4096], final[4096], parent[4096];
	sipas_backup_info info;
	struct stat st;
	bool created = false, renamed = false;
	sipas_err rv;
	int fd = -1, rc;

	memset(&info, 0, sizeof info);
	rv = prepare(dest, &created, diag);
	if (rv != SIPAS_OK)
		return rv;
	snprintf(tmp, sizeof tmp, "%s/%s", dest, SIPAS_BACKUP_PARTIAL);
	snprintf(final, sizeof final, "%s/data.mdb", dest);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		sipas_diag_set(diag, "%s: %s", tmp, strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	/* The copy reads from its own read transaction, begun inside the
	 * call: the last committed transaction before and after brackets
	 * the state it holds. */
	info.txn_first = last_txnid(s);
	rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
	info.txn_last = last_txnid(s);
	if (rc != 0) {
		sipas_diag_set(diag, "copy to %s: %s", tmp, mdb_strerror(rc));
		rv = SIPAS_E_STORE;
		goto out;
	}
	/* Data first, then the name, then the folder holding the name: after
	 * a crash data.mdb is either absent or whole. */
	if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
		sipas_diag_set(diag, "fsync %s: %s", tmp, strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	info.bytes = (uint64_t)st.st_size;
	if (close(fd) != 0) {
		fd = -1;
		sipas_diag_set(diag, "close %s: %s", tmp, strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, final) != 0) {
		sipas_diag_set(diag, "rename %s: %s", tmp, strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	renamed = true;
	rv = store_sync_dir(dest, diag);
	if (rv == SIPAS_OK && created) {
		store_parent_of(dest, parent, sizeof parent);
		rv = store_sync_dir(parent, diag);
	}
	if (rv == SIPAS_OK)
		rv = inspect(dest, &info, diag);
out:
	if (fd >= 0)
		close(fd);
	if (rv != SIPAS_OK) {
		/* Leave nothing that could be taken for a backup. */
		unlink(renamed ? final : tmp);
		if (created)
			rmdir(dest);
	}
	if (out != NULL)
		*out = info;
	return rv;
}
