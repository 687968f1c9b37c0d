/*
 * stale_reader.c - sipas-fault-reader DIR: open a read transaction on the
 * LMDB store in DIR, print "ready TXNID" and wait, as a sipas-snapshot
 * stopped in the middle of its read. Killed with SIGKILL, it leaves its
 * reader slot taken in lock.mdb: the slot pins every page freed after
 * TXNID until a reader check frees it.
 */
#include <lmdb.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: sipas-fault-reader STORE-DIR\n");
		return 1;
	}
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 16);
	if (rc == 0)
		rc = mdb_env_open(env, argv[1], MDB_RDONLY, 0);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		fprintf(stderr, "sipas-fault-reader: %s: %s\n", argv[1],
			mdb_strerror(rc));
		if (env != NULL)
			mdb_env_close(env);
		return 2;
	}
	printf("ready %zu\n", mdb_txn_id(txn));
	fflush(stdout);
	/* Wait for the signal; the transaction stays open until then. */
	for (;;)
		pause();
}
