/*
 * fuzz_spool.c - libFuzzer target for spool recovery: what a collector
 * reads back from its segment files after a crash, a torn write or disk
 * damage. Each run writes segment files into an empty folder (under
 * /dev/shm when there is one, so that fsync costs nothing), opens the
 * spool on it, takes every record out, forgets them, and then checks that
 * the spool still works: a record appended and synced is read back by the
 * next open, and nothing else is.
 *
 * The first byte picks how the other bytes become files:
 *   bit 0 clear - records: the bytes are a list of records, each an op
 *       byte (bits 0-1: 0 a good record, 1 a bad check, 2 a bad magic,
 *       3 a length that lies; bit 2: start a new segment first; bit 3:
 *       cut the record short, as a crash in mid-append does; bits 4-7:
 *       which of 16 keys), a length byte, then that many response bytes.
 *       The target writes the records with their checks computed, so the
 *       fuzzer reaches past the checksum.
 *   bit 0 set - raw: the bytes are one segment file after its header
 *       (bit 1 set: with no header at all).
 *   bit 4 - a zero-length segment file comes first (a crash while it was
 *       being created): open removes it.
 *   bit 5 - the first segment's header is damaged: open must refuse.
 *
 * What open must read back is found by reading the files here, by the
 * layout of sipas_spool.h: in each segment, the records that check out
 * before the first that does not (a torn record may be completed by the
 * bytes after it, as it would be on a disk).
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_spool -max_len=8192 tests/fuzz/corpus/spool
 */
#define _GNU_SOURCE /* O_DIRECTORY, unlinkat */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "sipas_buf.h"
#include "sipas_limits.h"
#include "sipas_spool.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The layout of sipas_spool.h, written here independently. */
#define SEG_MAGIC "SIPSPL1\n"
#define SEG_HEADER 8
#define REC_HEAD 48
#define REC_TAIL 8
#define MAX_SEGS 64
#define MAX_RECS 4096

enum { GOOD = 0, BAD_CHECK = 1, BAD_MAGIC = 2, BAD_LEN = 3 };

/* A record open must read back. */
struct want {
	const uint8_t *bytes;
	uint32_t len;
	int64_t received_ms;
	sipas_hash128 key, digest;
};

static char dir[256];
static int folder_fd = -1;
static struct want wants[MAX_RECS];
static size_t nwants;
static uint8_t file[MAX_SEGS][16384 + 2048];
static size_t filelen[MAX_SEGS];
static unsigned char rec[REC_HEAD + 256 + REC_TAIL];

static void clear(void);

/* At exit: the folder goes (a crash leaves it, with the files that
 * crashed, for a look). */
static void remove_folder(void)
{
	clear();
	close(folder_fd);
	(void)rmdir(dir);
}

static void setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;

	if (folder_fd >= 0)
		return;
	if (base == NULL)
		base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/sipas-fuzz-spool.XXXXXX", base);
	CHECK(mkdtemp(dir) != NULL);
	folder_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(folder_fd >= 0);
	atexit(remove_folder);
}

/* Empty the folder (segments and the lock file). */
static void clear(void)
{
	int fd = dup(folder_fd);
	struct dirent *de;
	DIR *d;

	CHECK(fd >= 0);
	d = fdopendir(fd);
	CHECK(d != NULL);
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			CHECK(unlinkat(folder_fd, de->d_name, 0) == 0);
	closedir(d);
}

static size_t count_files(void)
{
	int fd = dup(folder_fd);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	CHECK(fd >= 0);
	d = fdopendir(fd);
	CHECK(d != NULL);
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		n += strlen(de->d_name) == 20 &&
		     strcmp(de->d_name + 16, ".seg") == 0;
	closedir(d);
	return n;
}

static void write_file(uint64_t id, const void *p, size_t n)
{
	char name[32];
	int fd;

	snprintf(name, sizeof name, "%016llx.seg", (unsigned long long)id);
	fd = openat(folder_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	            0640);
	CHECK(fd >= 0);
	CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	CHECK(close(fd) == 0);
}

static void put_le(unsigned char *p, uint64_t v, int w)
{
	for (int i = 0; i < w; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Lay the records of data out in file[] (see the top of the file). */
static size_t build_records(const uint8_t *data, size_t size)
{
	size_t nseg = 1, pos = 0, nrec = 0;

	filelen[0] = 0;
	while (pos + 2 <= size && nrec++ < MAX_RECS) {
		uint8_t op = data[pos], len = data[pos + 1];
		int kind = op & 3;
		size_t n = len, reclen, cut;
		uint8_t sel = op >> 4;
		sipas_hash128 key = {0x1000u + sel, 0x2000u + sel};
		sipas_hash128 digest;
		int64_t received = (int64_t)(pos * 1000003u) - 12345;

		pos += 2;
		if (n > size - pos)
			n = size - pos;
		if ((op & 4) && filelen[nseg - 1] > 0 && nseg < MAX_SEGS)
			filelen[nseg++] = 0;
		digest = sipas_spool_digest(data + pos, n);
		put_le(rec, kind == BAD_MAGIC ? 0x31525054u : 0x31525053u, 4);
		put_le(rec + 4, kind == BAD_LEN ? n + 1 + (op >> 4) : n, 4);
		put_le(rec + 8, (uint64_t)received, 8);
		put_le(rec + 16, key.lo, 8);
		put_le(rec + 24, key.hi, 8);
		put_le(rec + 32, digest.lo, 8);
		put_le(rec + 40, digest.hi, 8);
		if (n > 0)
			memcpy(rec + REC_HEAD, data + pos, n);
		put_le(rec + REC_HEAD + n,
		       XXH3_64bits(rec, REC_HEAD + n) ^ (kind == BAD_CHECK),
		       8);
		reclen = REC_HEAD + n + REC_TAIL;
		/* A torn append: only the first part reached the disk. */
		cut = (op & 8) ? (n * 7 + op) % reclen : reclen;
		/* Room for the segment header, added in front later. */
		if (filelen[nseg - 1] + cut > sizeof file[0] - SEG_HEADER)
			break;
		memcpy(file[nseg - 1] + filelen[nseg - 1], rec, cut);
		filelen[nseg - 1] += cut;
		pos += n;
	}
	return nseg;
}

static uint64_t get_le(const unsigned char *p, int w)
{
	uint64_t v = 0;

	for (int i = w - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The records segment file f (n bytes, a header first) holds before the
 * first that does not check out, appended to wants; returns the bytes
 * after them, which open cuts off. */
static size_t read_back(const uint8_t *f, size_t n)
{
	size_t off = SEG_HEADER;

	while (nwants < MAX_RECS && n - off >= REC_HEAD) {
		const uint8_t *r = f + off;
		uint64_t len = get_le(r + 4, 4);

		if (get_le(r, 4) != 0x31525053u || len > SIPAS_MAX_REQUEST ||
		    n - off - REC_HEAD < len + REC_TAIL ||
		    get_le(r + REC_HEAD + len, 8) !=
		        XXH3_64bits(r, REC_HEAD + len))
			break;
		wants[nwants++] = (struct want){
		    r + REC_HEAD, (uint32_t)len, (int64_t)get_le(r + 8, 8),
		    {get_le(r + 16, 8), get_le(r + 24, 8)},
		    {get_le(r + 32, 8), get_le(r + 40, 8)}};
		off += REC_HEAD + len + REC_TAIL;
	}
	return n - off;
}

/* Every record of the spool, in order: next, then done. */
static size_t drain(sipas_spool *sp)
{
	sipas_spool_item it;
	sipas_spool_stats st;
	sipas_diag diag;
	sipas_buf out;
	size_t got = 0;
	sipas_err rv;

	sipas_buf_init(&out, SIPAS_MAX_REQUEST);
	while ((rv = sipas_spool_next(sp, &out, &it, &diag)) == SIPAS_OK) {
		CHECK(out.len <= SIPAS_MAX_REQUEST);
		CHECK(got < nwants);
		CHECK(out.len == wants[got].len);
		CHECK(out.len == 0 ||
		      memcmp(out.data, wants[got].bytes, out.len) == 0);
		CHECK(it.received_ms == wants[got].received_ms);
		CHECK(sipas_hash128_eq(it.key, wants[got].key));
		CHECK(sipas_hash128_eq(it.digest, wants[got].digest));
		/* Held until done, whichever copy it is: a key can be in
		 * the files twice (done, then spooled again before its
		 * segment went), and it stays known while any copy is
		 * held. */
		CHECK(sipas_spool_find(sp, it.key, it.digest) !=
		      SIPAS_MATCH_NONE);
		got++;
		CHECK(sipas_spool_done(sp, it.seq, &diag) == SIPAS_OK);
	}
	CHECK(rv == SIPAS_E_NOT_FOUND);
	CHECK(got == nwants);
	sipas_spool_stats_get(sp, &st);
	CHECK(st.entries == 0 && st.pending == 0 && st.out == 0);
	CHECK(st.segments == 0 && st.bytes == 0);
	sipas_buf_free(&out);
	return got;
}

/* After recovery the spool must still keep what it acknowledges. */
static void append_and_reopen(sipas_spool **sp)
{
	static const char body[] = "\x81\xa2id\xa3r-1";
	sipas_hash128 key = sipas_spool_key("C", "after-recovery");
	sipas_hash128 digest = sipas_spool_digest(body, sizeof body - 1);
	sipas_spool_stats st;
	sipas_spool_item it;
	sipas_diag diag;
	sipas_buf out;

	CHECK(sipas_spool_append(*sp, key, digest, 42, body, sizeof body - 1,
	                         &diag) == SIPAS_OK);
	CHECK(sipas_spool_sync(*sp, &diag) == SIPAS_OK);
	sipas_spool_close(sp);
	CHECK(*sp == NULL);
	CHECK(sipas_spool_open(sp, dir, NULL, &diag) == SIPAS_OK);
	sipas_spool_stats_get(*sp, &st);
	CHECK(st.recovered == 1 && st.truncated == 0 && st.segments == 1);
	sipas_buf_init(&out, SIPAS_MAX_REQUEST);
	CHECK(sipas_spool_next(*sp, &out, &it, &diag) == SIPAS_OK);
	CHECK(out.len == sizeof body - 1);
	CHECK(memcmp(out.data, body, out.len) == 0);
	CHECK(it.received_ms == 42 && sipas_hash128_eq(it.key, key));
	CHECK(sipas_spool_done(*sp, it.seq, &diag) == SIPAS_OK);
	CHECK(sipas_spool_next(*sp, &out, &it, &diag) == SIPAS_E_NOT_FOUND);
	sipas_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sipas_spool *sp = NULL;
	sipas_spool_stats st;
	sipas_diag diag;
	size_t nseg, cut = 0, first = 1;
	bool raw;
	sipas_err rv;
	int mode;

	if (size < 1)
		return 0;
	setup();
	clear();
	mode = data[0];
	raw = mode & 1;
	if (mode & 16) {
		write_file(1, "", 0);
		first = 2;
	}
	if (raw) {
		size_t n = size - 1 > sizeof file[0] - SEG_HEADER
		               ? sizeof file[0] - SEG_HEADER
		               : size - 1;
		size_t h = (mode & 2) ? 0 : SEG_HEADER;

		memcpy(file[0], SEG_MAGIC, SEG_HEADER);
		memcpy(file[0] + h, data + 1, n);
		filelen[0] = h + n;
		nseg = 1;
	} else {
		nseg = build_records(data + 1, size - 1);
		for (size_t i = 0; i < nseg; i++) {
			memmove(file[i] + SEG_HEADER, file[i], filelen[i]);
			memcpy(file[i], SEG_MAGIC, SEG_HEADER);
			filelen[i] += SEG_HEADER;
		}
	}
	if (mode & 32)
		file[0][3] ^= 0x20;
	for (size_t i = 0; i < nseg; i++)
		write_file(first + i, file[i], filelen[i]);

	/* A file that holds a header's worth of bytes and does not start
	 * with one is not a segment: open refuses the folder. */
	if (filelen[0] >= SEG_HEADER &&
	    memcmp(file[0], SEG_MAGIC, SEG_HEADER) != 0) {
		CHECK(sipas_spool_open(&sp, dir, NULL, &diag) == SIPAS_E_IO);
		CHECK(sp == NULL);
		CHECK(strstr(diag.msg, "not a spool segment") != NULL);
		return 0;
	}
	/* A shorter one was torn while being created: open removes it. */
	nwants = 0;
	for (size_t i = 0; i < nseg; i++)
		cut += filelen[i] < SEG_HEADER ? filelen[i]
		                               : read_back(file[i], filelen[i]);

	rv = sipas_spool_open(&sp, dir, NULL, &diag);
	if (rv != SIPAS_OK)
		fprintf(stderr, "open: %s\n", diag.msg);
	CHECK(rv == SIPAS_OK && sp != NULL);
	sipas_spool_stats_get(sp, &st);
	CHECK(st.pending == st.entries && st.recovered == st.entries);
	CHECK(st.recovered == nwants && st.truncated == cut);
	drain(sp);
	CHECK(count_files() == 0);
	append_and_reopen(&sp);
	sipas_spool_close(&sp);
	return 0;
}
