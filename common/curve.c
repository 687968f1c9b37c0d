/*
 * curve.c - CURVE key files, allowlists, the ZAP handler and handshake
 * failure accounting (see sipas_curve.h, docs/security.md).
 */
#include "sipas_curve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sipas_daemon.h"
#include "sipas_log.h"
#include "sipas_oom.h"
#include "sipas_zmsg.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define LINE_MAX_LEN 1024
#define NAME_MAX_LEN 256

/* ---- endpoints ---- */

bool sipas_endpoint_is_local(const char *ep)
{
	char host[256];
	const char *p, *end;
	struct in_addr a4;
	struct in6_addr a6;
	size_t n;

	if (ep == NULL)
		return false;
	if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
		return true;
	if (strncmp(ep, "tcp://", 6) != 0)
		return false;
	p = ep + 6;
	/* tcp://SOURCE;DESTINATION (connect): where it goes is what counts. */
	if (strchr(p, ';') != NULL)
		p = strchr(p, ';') + 1;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL || end[1] != ':')
			return false;
		p++;
	} else {
		end = strrchr(p, ':');
		if (end == NULL)
			return false;
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof host)
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0,
						     0, 0, 0, 0, 0xff, 0xff};

		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return memcmp(a6.s6_addr, v4mapped, 12) == 0 &&
		       a6.s6_addr[12] == 127;
	}
	return false;
}

bool sipas_curve_is_none(const char *path)
{
	return path == NULL || path[0] == '\0' || strcmp(path, "none") == 0;
}

/* ---- keys in memory ---- */

void sipas_curve_key_wipe(sipas_curve_key *k)
{
	/* Through a volatile pointer, so the stores are not optimised away
	 * as dead. */
	volatile uint8_t *p = k->sec;

	for (size_t i = 0; i < sizeof k->sec; i++)
		p[i] = 0;
}

void sipas_curve_z85(const uint8_t key[SIPAS_CURVE_KEY_LEN],
		     char out[SIPAS_CURVE_Z85_LEN + 1])
{
	if (zmq_z85_encode(out, key, SIPAS_CURVE_KEY_LEN) == NULL)
		out[0] = '\0';
}

/* ---- key files ---- */

/* What a key file held. */
struct keyfile {
	mode_t mode;
	uint8_t (*pub)[SIPAS_CURVE_KEY_LEN];
	unsigned *pub_line;
	size_t npub, cap;
	uint8_t sec[SIPAS_CURVE_KEY_LEN];
	unsigned sec_line; /* 0: no secret key */
};

static void keyfile_free(struct keyfile *kf)
{
	volatile uint8_t *p = kf->sec;

	for (size_t i = 0; i < sizeof kf->sec; i++)
		p[i] = 0;
	free(kf->pub);
	free(kf->pub_line);
	memset(kf, 0, sizeof *kf);
}

/* Read a whole key file (at most SIPAS_CURVE_FILE_MAX bytes) into a
 * NUL-terminated buffer; *mode gets its permission bits. */
static sipas_err read_all(const char *path, char **out, size_t *len,
			  mode_t *mode, sipas_diag *diag)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	sipas_err rv = SIPAS_E_IO;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sipas_diag_set(diag, "%s: %s", path, strerror(errno));
		return SIPAS_E_IO;
	}
	if (fstat(fd, &st) != 0) {
		sipas_diag_set(diag, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		sipas_diag_set(diag, "%s: not a regular file", path);
		rv = SIPAS_E_BAD_VALUE;
		goto out;
	}
	*mode = st.st_mode & 07777;
	if (st.st_size > SIPAS_CURVE_FILE_MAX) {
		sipas_diag_set(diag, "%s: larger than %d bytes", path,
			       SIPAS_CURVE_FILE_MAX);
		rv = SIPAS_E_BAD_VALUE;
		goto out;
	}
	buf = sipas_xmalloc((size_t)st.st_size + 2);
	for (;;) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sipas_diag_set(diag, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > (size_t)st.st_size) {
			sipas_diag_set(diag, "%s: grew while being read", path);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rv = SIPAS_OK;
out:
	free(buf);
	close(fd);
	return rv;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Decode a Z85 key of exactly SIPAS_CURVE_Z85_LEN characters. */
static bool z85_key(const char *s, size_t n, uint8_t out[SIPAS_CURVE_KEY_LEN])
{
	char text[SIPAS_CURVE_Z85_LEN + 1];

	if (n != SIPAS_CURVE_Z85_LEN)
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	return zmq_z85_decode(out, text) != NULL;
}

enum section { S_NONE, S_CURVE, S_METADATA };

/*
 * One `name = "value"` line of a section (the indentation already
 * skipped). Only the curve section's public-key and secret-key are read;
 * metadata lines are checked for their shape and ignored.
 */
static sipas_err parse_pair(const char *path, unsigned line, const char *p,
			    enum section sec, struct keyfile *kf,
			    sipas_diag *diag)
{
	const char *name = p, *value;
	size_t nlen, vlen;
	uint8_t key[SIPAS_CURVE_KEY_LEN];

	while (*p != '\0' && *p != '=' && !is_blank(*p))
		p++;
	nlen = (size_t)(p - name);
	while (is_blank(*p))
		p++;
	if (nlen == 0 || *p != '=') {
		sipas_diag_set(diag, "%s:%u: not a `name = \"value\"` line",
			       path, line);
		return SIPAS_E_BAD_VALUE;
	}
	p++;
	while (is_blank(*p))
		p++;
	if (*p != '"' || strchr(p + 1, '"') == NULL) {
		sipas_diag_set(diag, "%s:%u: the value must be in double quotes",
			       path, line);
		return SIPAS_E_BAD_VALUE;
	}
	value = p + 1;
	vlen = (size_t)(strchr(value, '"') - value);
	p = value + vlen + 1;
	while (is_blank(*p))
		p++;
	if (*p != '\0') {
		sipas_diag_set(diag, "%s:%u: text after the closing quote",
			       path, line);
		return SIPAS_E_BAD_VALUE;
	}
	if (sec == S_METADATA)
		return SIPAS_OK;
	if (nlen == 10 && memcmp(name, "public-key", 10) == 0) {
		if (!z85_key(value, vlen, key)) {
			sipas_diag_set(diag,
				       "%s:%u: public-key is not %d characters "
				       "of Z85", path, line, SIPAS_CURVE_Z85_LEN);
			return SIPAS_E_BAD_VALUE;
		}
		if (kf->npub == kf->cap) {
			kf->cap = kf->cap ? 2 * kf->cap : 4;
			kf->pub = sipas_xrealloc(kf->pub,
						 kf->cap * sizeof *kf->pub);
			kf->pub_line = sipas_xrealloc(
				kf->pub_line, kf->cap * sizeof *kf->pub_line);
		}
		memcpy(kf->pub[kf->npub], key, sizeof key);
		kf->pub_line[kf->npub++] = line;
		return SIPAS_OK;
	}
	if (nlen == 10 && memcmp(name, "secret-key", 10) == 0) {
		if (kf->sec_line != 0) {
			sipas_diag_set(diag, "%s:%u: a second secret-key", path,
				       line);
			return SIPAS_E_BAD_VALUE;
		}
		if (!z85_key(value, vlen, kf->sec)) {
			sipas_diag_set(diag,
				       "%s:%u: secret-key is not %d characters "
				       "of Z85", path, line, SIPAS_CURVE_Z85_LEN);
			return SIPAS_E_BAD_VALUE;
		}
		kf->sec_line = line;
		return SIPAS_OK;
	}
	sipas_diag_set(diag,
		       "%s:%u: unknown key '%.*s' (the curve section holds "
		       "public-key and secret-key)",
		       path, line, (int)(nlen < 64 ? nlen : 64), name);
	return SIPAS_E_BAD_VALUE;
}

/*
 * Parse a key file (ZPL as CZMQ writes certificates): comment and blank
 * lines, the section names `curve` and `metadata` at the start of a line,
 * and indented `name = "value"` lines below them.
 */
static sipas_err parse(const char *path, char *text, size_t len,
		       struct keyfile *kf, sipas_diag *diag)
{
	enum section sec = S_NONE;
	unsigned line = 0;
	char *p = text, *end = text + len;

	if (memchr(text, '\0', len) != NULL) {
		sipas_diag_set(diag, "%s: a NUL byte: not a key file", path);
		return SIPAS_E_BAD_VALUE;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl != NULL ? nl : end;
		char *q = p;
		sipas_err rv;

		line++;
		if (eol - p > LINE_MAX_LEN) {
			sipas_diag_set(diag, "%s:%u: line longer than %d bytes",
				       path, line, LINE_MAX_LEN);
			return SIPAS_E_BAD_VALUE;
		}
		/* Trailing blanks and a CR (a file edited elsewhere) are
		 * not part of the line. */
		while (eol > p && (is_blank(eol[-1]) || eol[-1] == '\r'))
			eol--;
		*eol = '\0';
		while (is_blank(*q))
			q++;
		if (*q == '\0' || *q == '#') {
			/* blank or comment */
		} else if (q == p) {
			if (strcmp(p, "curve") == 0) {
				sec = S_CURVE;
			} else if (strcmp(p, "metadata") == 0) {
				sec = S_METADATA;
			} else {
				sipas_diag_set(
					diag,
					"%s:%u: '%.64s' is not a section of a "
					"key file (curve, metadata; the keys "
					"below a section are indented)",
					path, line, p);
				return SIPAS_E_BAD_VALUE;
			}
		} else if (sec == S_NONE) {
			sipas_diag_set(diag,
				       "%s:%u: a key before any section (a "
				       "`curve` line comes first)", path, line);
			return SIPAS_E_BAD_VALUE;
		} else {
			rv = parse_pair(path, line, q, sec, kf, diag);
			if (rv != SIPAS_OK)
				return rv;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	return SIPAS_OK;
}

static sipas_err load(const char *path, struct keyfile *kf, sipas_diag *diag)
{
	char *text = NULL;
	size_t len = 0;
	sipas_err rv;

	memset(kf, 0, sizeof *kf);
	rv = read_all(path, &text, &len, &kf->mode, diag);
	if (rv == SIPAS_OK)
		rv = parse(path, text, len, kf, diag);
	if (text != NULL) {
		/* The text held the secret key too. */
		volatile char *v = text;

		for (size_t i = 0; i < len; i++)
			v[i] = 0;
		free(text);
	}
	if (rv != SIPAS_OK)
		keyfile_free(kf);
	return rv;
}

sipas_err sipas_curve_load_pair(const char *path, sipas_curve_key *out,
				sipas_diag *diag)
{
	struct keyfile kf;
	char sec_z85[SIPAS_CURVE_Z85_LEN + 1], pub_z85[SIPAS_CURVE_Z85_LEN + 1];
	uint8_t derived[SIPAS_CURVE_KEY_LEN];
	sipas_err rv;

	memset(out, 0, sizeof *out);
	rv = load(path, &kf, diag);
	if (rv != SIPAS_OK)
		return rv;
	rv = SIPAS_E_BAD_VALUE;
	if (kf.sec_line == 0) {
		sipas_diag_set(diag,
			       "%s: no secret-key: not a secret key file (give "
			       "NAME.key, not NAME.pub)", path);
		goto out;
	}
	/* A key others can read is no secret any more. Group read is let
	 * through: root:sipas 0640 is a common way to hand a key to a
	 * daemon's group, and the ACL systemd puts on a LoadCredential=
	 * file shows as group bits (0440). */
	if ((kf.mode & 027) != 0) {
		sipas_diag_set(diag,
			       "%s: mode %04o: a secret key file must not be "
			       "readable by others nor writable by its group "
			       "(chmod 600 %s)",
			       path, (unsigned)kf.mode, path);
		goto out;
	}
	if (kf.npub > 1) {
		sipas_diag_set(diag, "%s:%u: a second public-key", path,
			       kf.pub_line[1]);
		goto out;
	}
	/* The public half follows from the secret one; a public-key line
	 * that says otherwise means the file was pieced together wrongly. */
	sipas_curve_z85(kf.sec, sec_z85);
	if (zmq_curve_public(pub_z85, sec_z85) != 0 ||
	    zmq_z85_decode(derived, pub_z85) == NULL) {
		sipas_diag_set(diag, "%s: zmq_curve_public: %s", path,
			       zmq_strerror(errno));
		goto out;
	}
	if (kf.npub == 1 && memcmp(kf.pub[0], derived, sizeof derived) != 0) {
		sipas_diag_set(diag,
			       "%s:%u: public-key is not the public half of "
			       "the secret-key (line %u)",
			       path, kf.pub_line[0], kf.sec_line);
		goto out;
	}
	memcpy(out->pub, derived, sizeof derived);
	memcpy(out->sec, kf.sec, sizeof kf.sec);
	out->has_secret = true;
	rv = SIPAS_OK;
out:
	memset(sec_z85, 0, sizeof sec_z85);
	keyfile_free(&kf);
	return rv;
}

sipas_err sipas_curve_load_public(const char *path, sipas_curve_key *out,
				  sipas_diag *diag)
{
	struct keyfile kf;
	sipas_err rv;

	memset(out, 0, sizeof *out);
	rv = load(path, &kf, diag);
	if (rv != SIPAS_OK)
		return rv;
	rv = SIPAS_E_BAD_VALUE;
	if (kf.sec_line != 0)
		sipas_diag_set(diag,
			       "%s:%u: holds a secret key: give the public "
			       "key file (NAME.pub), and keep NAME.key private",
			       path, kf.sec_line);
	else if (kf.npub == 0)
		sipas_diag_set(diag, "%s: no public-key line", path);
	else if (kf.npub > 1)
		sipas_diag_set(diag, "%s:%u: a second public-key", path,
			       kf.pub_line[1]);
	else
		rv = SIPAS_OK;
	if (rv == SIPAS_OK)
		memcpy(out->pub, kf.pub[0], sizeof out->pub);
	keyfile_free(&kf);
	return rv;
}

/* ---- keygen ---- */

/* Create `path` (which must not exist) holding `text`, fsync'd. */
static sipas_err write_new(const char *path, const char *text, mode_t mode,
			   sipas_diag *diag)
{
	size_t len = strlen(text), done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		int err = errno;

		sipas_diag_set(diag, "%s: %s%s", path, strerror(err),
			       err == EEXIST ? " (a key file is never "
					       "overwritten)" : "");
		return err == EEXIST ? SIPAS_E_USAGE : SIPAS_E_IO;
	}
	/* The mode asked for was filtered by the umask; the secret file
	 * must be exactly 0600 whatever the umask. */
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return SIPAS_OK;
fail:
	sipas_diag_set(diag, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return SIPAS_E_IO;
}

/* fsync the folder holding `path`, so the new names survive a crash. */
static void sync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

sipas_err sipas_curve_keygen(const char *base,
			     char pub_z85[SIPAS_CURVE_Z85_LEN + 1],
			     sipas_diag *diag)
{
	char sec_z85[SIPAS_CURVE_Z85_LEN + 1];
	char keypath[4096], pubpath[4096], when[32], text[1024];
	const char *name = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
	time_t now = time(NULL);
	struct tm tm;
	sipas_err rv;

	pub_z85[0] = '\0';
	if (*name == '\0' || strlen(base) + 5 > sizeof keypath) {
		sipas_diag_set(diag, "'%s': not a usable name for key files",
			       base);
		return SIPAS_E_USAGE;
	}
	snprintf(keypath, sizeof keypath, "%s.key", base);
	snprintf(pubpath, sizeof pubpath, "%s.pub", base);
	if (zmq_curve_keypair(pub_z85, sec_z85) != 0) {
		sipas_diag_set(diag, "zmq_curve_keypair: %s (libzmq without "
			       "CURVE support?)", zmq_strerror(errno));
		return SIPAS_E_IO;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text, sizeof text,
		 "#   sipas CURVE secret key \"%s\", made by sipas-admin "
		 "keygen on %s.\n"
		 "#   Keep it private: mode 0600, readable by the daemon "
		 "that uses it only.\n"
		 "#   The public key alone is in %s.pub: give that one "
		 "to the peers.\n"
		 "\n"
		 "curve\n"
		 "    public-key = \"%s\"\n"
		 "    secret-key = \"%s\"\n",
		 name, when, name, pub_z85, sec_z85);
	rv = write_new(keypath, text, 0600, diag);
	memset(text, 0, sizeof text);
	memset(sec_z85, 0, sizeof sec_z85);
	if (rv != SIPAS_OK)
		return rv;
	snprintf(text, sizeof text,
		 "#   sipas CURVE public key \"%s\", made by sipas-admin "
		 "keygen on %s.\n"
		 "#   A collector lists its clients' public keys "
		 "(curve-clients); a client\n"
		 "#   names its collector's (--curve-server).\n"
		 "\n"
		 "curve\n"
		 "    public-key = \"%s\"\n",
		 name, when, pub_z85);
	rv = write_new(pubpath, text, 0644, diag);
	if (rv != SIPAS_OK) {
		/* Only what this call created is removed. */
		unlink(keypath);
		return rv;
	}
	sync_dir_of(keypath);
	return SIPAS_OK;
}

/* ---- allowlists ---- */

struct entry {
	uint8_t key[SIPAS_CURVE_KEY_LEN];
	char name[NAME_MAX_LEN];
};

struct sipas_curve_allow {
	struct entry *e;
	size_t n, cap;
};

static void allow_add(sipas_curve_allow *a, const uint8_t *key,
		      const char *name)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 16;
		a->e = sipas_xrealloc(a->e, a->cap * sizeof *a->e);
	}
	memcpy(a->e[a->n].key, key, SIPAS_CURVE_KEY_LEN);
	snprintf(a->e[a->n].name, sizeof a->e[a->n].name, "%s", name);
	a->n++;
}

static int cmp_entry(const void *x, const void *y)
{
	return memcmp(((const struct entry *)x)->key,
		      ((const struct entry *)y)->key, SIPAS_CURVE_KEY_LEN);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

/* The *.pub files of a folder, one key each. */
static sipas_err allow_dir(sipas_curve_allow *a, const char *path,
			   sipas_diag *diag)
{
	DIR *d = opendir(path);
	struct dirent *de;
	sipas_err rv = SIPAS_OK;

	if (d == NULL) {
		sipas_diag_set(diag, "%s: %s", path, strerror(errno));
		return SIPAS_E_IO;
	}
	while ((de = readdir(d)) != NULL) {
		char file[4096 + NAME_MAX_LEN];
		sipas_curve_key k;
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || !ends_with(de->d_name, ".pub"))
			continue;
		snprintf(file, sizeof file, "%s/%s", path, de->d_name);
		rv = sipas_curve_load_public(file, &k, diag);
		if (rv != SIPAS_OK)
			break;
		de->d_name[n - 4] = '\0';
		allow_add(a, k.pub, de->d_name);
	}
	closedir(d);
	if (rv == SIPAS_OK && a->n == 0) {
		sipas_diag_set(diag,
			       "%s: no *.pub file: an empty allowlist would "
			       "refuse every client", path);
		rv = SIPAS_E_BAD_VALUE;
	}
	return rv;
}

/* One file with one or more public-key lines. */
static sipas_err allow_file(sipas_curve_allow *a, const char *path,
			    sipas_diag *diag)
{
	struct keyfile kf;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	sipas_err rv = load(path, &kf, diag);

	if (rv != SIPAS_OK)
		return rv;
	if (kf.sec_line != 0) {
		sipas_diag_set(diag,
			       "%s:%u: holds a secret key: an allowlist lists "
			       "public keys only", path, kf.sec_line);
		rv = SIPAS_E_BAD_VALUE;
	} else if (kf.npub == 0) {
		sipas_diag_set(diag,
			       "%s: no public-key line: an empty allowlist "
			       "would refuse every client", path);
		rv = SIPAS_E_BAD_VALUE;
	}
	for (size_t i = 0; rv == SIPAS_OK && i < kf.npub; i++) {
		char name[NAME_MAX_LEN];

		snprintf(name, sizeof name, "%.200s:%u", base, kf.pub_line[i]);
		allow_add(a, kf.pub[i], name);
	}
	keyfile_free(&kf);
	return rv;
}

sipas_err sipas_curve_allow_load(sipas_curve_allow **out, const char *path,
				 sipas_diag *diag)
{
	sipas_curve_allow *a = sipas_xcalloc(1, sizeof *a);
	struct stat st;
	sipas_err rv;

	*out = NULL;
	if (stat(path, &st) != 0) {
		sipas_diag_set(diag, "%s: %s", path, strerror(errno));
		rv = SIPAS_E_IO;
	} else if (S_ISDIR(st.st_mode)) {
		rv = allow_dir(a, path, diag);
	} else {
		rv = allow_file(a, path, diag);
	}
	if (rv != SIPAS_OK) {
		sipas_curve_allow_free(&a);
		return rv;
	}
	qsort(a->e, a->n, sizeof *a->e, cmp_entry);
	*out = a;
	return SIPAS_OK;
}

size_t sipas_curve_allow_count(const sipas_curve_allow *a)
{
	return a != NULL ? a->n : 0;
}

bool sipas_curve_allow_has(const sipas_curve_allow *a,
			   const uint8_t key[SIPAS_CURVE_KEY_LEN],
			   const char **name)
{
	struct entry probe;
	const struct entry *hit;

	if (a == NULL || a->n == 0)
		return false;
	memcpy(probe.key, key, SIPAS_CURVE_KEY_LEN);
	hit = bsearch(&probe, a->e, a->n, sizeof *a->e, cmp_entry);
	if (hit != NULL && name != NULL)
		*name = hit->name;
	return hit != NULL;
}

void sipas_curve_allow_free(sipas_curve_allow **a)
{
	if (a == NULL || *a == NULL)
		return;
	free((*a)->e);
	free(*a);
	*a = NULL;
}

/* ---- socket options ---- */

sipas_err sipas_curve_set_server(void *sock, const sipas_curve_key *own,
				 sipas_diag *diag)
{
	int one = 1;

	if (!own->has_secret) {
		sipas_diag_set(diag, "a CURVE server needs its secret key");
		return SIPAS_E_USAGE;
	}
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, own->sec,
			   sizeof own->sec) != 0) {
		sipas_diag_set(diag, "CURVE server: %s", zmq_strerror(errno));
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}

sipas_err sipas_curve_set_client(void *sock, const sipas_curve_key *own,
				 const sipas_curve_key *server,
				 sipas_diag *diag)
{
	if (!own->has_secret) {
		sipas_diag_set(diag, "a CURVE client needs its own key pair");
		return SIPAS_E_USAGE;
	}
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server->pub,
			   sizeof server->pub) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, own->pub,
			   sizeof own->pub) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, own->sec,
			   sizeof own->sec) != 0) {
		sipas_diag_set(diag, "CURVE client: %s", zmq_strerror(errno));
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}

const char *sipas_curve_failure_text(unsigned event, uint32_t value,
				     bool server)
{
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
		return server ? "the client's key is not in the allowlist"
			      : "the server refused this side's key (it is "
				"not in the server's allowlist)";
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
		return server ? "the connection closed during the handshake "
				"(a peer that is not ZeroMQ, or gave up)"
			      : "the connection closed during the handshake "
				"(a wrong server public key, or a server "
				"that is not sipas)";
	if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
		return "unknown handshake failure";
	switch (value) {
	case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
		return server ? "the client and this endpoint disagree on "
				"CURVE (one side has no keys configured)"
			      : "this side and the server disagree on CURVE "
				"(one side has no keys configured)";
	case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
		return server ? "the client's hello could not be opened (it "
				"was given a wrong server public key)"
			      : "cryptographic failure (wrong keys)";
	case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
		return "the key exchange failed (wrong keys)";
	default:
		return "a ZMTP protocol error during the handshake";
	}
}

/* ---- the guard ---- */

enum { K_DENIED, K_FAILED, NKINDS };

/* One kind of refusal, logged at most once per log_every_ms. */
struct kind {
	int64_t last_log; /* 0: never */
	uint64_t since;   /* events since the last line */
	char what[640];   /* the latest of them */
};

struct sipas_curve_guard {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* stats, allow */
	sipas_curve_stats stats;
	sipas_curve_allow *allow;
	bool curve;
	void *zap, *mon, *ctl_main, *ctl_thread;
	char prefix[16];
	char endpoint[256];
	int64_t every;
	struct kind k[NKINDS];
};

static void emit(sipas_curve_guard *g, int kind, int64_t now)
{
	struct kind *k = &g->k[kind];
	sipas_curve_stats st;
	char id[48];

	pthread_mutex_lock(&g->lock);
	st = g->stats;
	pthread_mutex_unlock(&g->lock);
	snprintf(id, sizeof id, "%s-%s", g->prefix,
		 kind == K_DENIED ? "CURVE-DENIED" : "HANDSHAKE-FAIL");
	if (k->since == 1)
		sipas_log(SIPAS_LOG_WARNING, id, "%s (%llu so far)", k->what,
			  (unsigned long long)(kind == K_DENIED ? st.denied
								: st.failed));
	else
		sipas_log(SIPAS_LOG_WARNING, id,
			  "%llu in the last %lld s, the latest: %s (%llu so "
			  "far)",
			  (unsigned long long)k->since,
			  (long long)((now - k->last_log) / 1000), k->what,
			  (unsigned long long)(kind == K_DENIED ? st.denied
								: st.failed));
	k->since = 0;
	k->last_log = now;
}

/* Count one refusal of `kind` now and log it unless one was logged less
 * than log_every_ms ago (then it is in the next line's count). */
static void note(sipas_curve_guard *g, int kind, const char *what)
{
	struct kind *k = &g->k[kind];
	int64_t now = sipas_now_ms();

	pthread_mutex_lock(&g->lock);
	if (kind == K_DENIED)
		g->stats.denied++;
	else
		g->stats.failed++;
	pthread_mutex_unlock(&g->lock);
	k->since++;
	snprintf(k->what, sizeof k->what, "%s", what);
	if (k->last_log == 0 || now - k->last_log >= g->every)
		emit(g, kind, now);
}

static void zap_reply(void *zap, zmq_msg_t *reqid, const char *status,
		      const char *text, const char *user)
{
	zmq_msg_t id;

	zmq_msg_init(&id);
	if (reqid != NULL)
		zmq_msg_copy(&id, reqid);
	zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_msg_send(&id, zap, ZMQ_SNDMORE);
	zmq_send(zap, status, 3, ZMQ_SNDMORE);
	zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(zap, "", 0, 0);
	zmq_msg_close(&id);
}

/*
 * One ZAP request (RFC 27): version, request id, domain, address,
 * routing id, mechanism, credentials. A CURVE client whose public key is
 * listed gets 200 (its entry's name as User-Id); any other gets 400.
 * False when none was waiting.
 */
static bool zap_one(sipas_curve_guard *g)
{
	zmq_msg_t f[8];
	const char *name = NULL;
	char user[NAME_MAX_LEN] = "", what[640], addr[64] = "";
	char z85[SIPAS_CURVE_Z85_LEN + 1] = "";
	bool extra, ok = false;
	int np;

	if (!sipas_zmsg_recv(g->zap, f, 8, &np, &extra))
		return false;
	if (extra || np != 7 || zmq_msg_size(&f[0]) != 3 ||
	    memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
		/* Not what libzmq sends: refuse, and still answer, since a
		 * REP socket must. */
		zap_reply(g->zap, np > 1 ? &f[1] : NULL, "500",
			  "malformed ZAP request", "");
		note(g, K_FAILED, "a malformed ZAP request");
		goto out;
	}
	snprintf(addr, sizeof addr, "%.*s",
		 (int)(zmq_msg_size(&f[3]) < 63 ? zmq_msg_size(&f[3]) : 63),
		 (const char *)zmq_msg_data(&f[3]));
	if (zmq_msg_size(&f[5]) == 5 &&
	    memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
	    zmq_msg_size(&f[6]) == SIPAS_CURVE_KEY_LEN) {
		sipas_curve_z85(zmq_msg_data(&f[6]), z85);
		pthread_mutex_lock(&g->lock);
		ok = sipas_curve_allow_has(g->allow, zmq_msg_data(&f[6]),
					   &name);
		if (ok) {
			snprintf(user, sizeof user, "%s", name);
			g->stats.allowed++;
		}
		pthread_mutex_unlock(&g->lock);
	}
	if (ok) {
		zap_reply(g->zap, &f[1], "200", "OK", user);
		char id[48];

		snprintf(id, sizeof id, "%s-CURVE-ALLOWED", g->prefix);
		sipas_log(SIPAS_LOG_DEBUG, id, "client key %s (%s) from %s",
			  z85, user, addr);
	} else {
		zap_reply(g->zap, &f[1], "400", "key not allowed", "");
		snprintf(what, sizeof what,
			 "refused client key %s from %s: not in the "
			 "allowlist", z85[0] ? z85 : "(none)", addr);
		note(g, K_DENIED, what);
	}
out:
	sipas_zmsg_close(f, np);
	return true;
}

/* One monitor event of the guarded socket; false when none was waiting. */
static bool mon_one(sipas_curve_guard *g)
{
	zmq_msg_t f[2];
	uint16_t event = 0;
	uint32_t value = 0;
	char what[640];
	bool extra;
	int np;

	if (!sipas_zmsg_recv(g->mon, f, 2, &np, &extra))
		return false;
	if (zmq_msg_size(&f[0]) >= 6) {
		memcpy(&event, zmq_msg_data(&f[0]), sizeof event);
		memcpy(&value, (const char *)zmq_msg_data(&f[0]) + 2,
		       sizeof value);
	}
	/* An AUTH failure is a refusal of the ZAP handler, which counted
	 * and logged it already with the client's key. */
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
	    event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
		snprintf(what, sizeof what, "handshake failed at %s: %s",
			 g->endpoint,
			 sipas_curve_failure_text(event, value, true));
		note(g, K_FAILED, what);
	} else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !g->curve) {
		note(g, K_FAILED, "handshake refused by a ZAP handler");
	}
	sipas_zmsg_close(f, np);
	return true;
}

static void *run(void *arg)
{
	sipas_curve_guard *g = arg;

	for (;;) {
		zmq_pollitem_t it[3] = {{g->ctl_thread, 0, ZMQ_POLLIN, 0},
					{g->mon, 0, ZMQ_POLLIN, 0},
					{g->zap, 0, ZMQ_POLLIN, 0}};
		int n = g->zap != NULL ? 3 : 2;
		long timeout = -1;
		int64_t now = sipas_now_ms();

		/* Wake up when a pending count is due for its line. */
		for (int i = 0; i < NKINDS; i++) {
			int64_t due = g->k[i].last_log + g->every - now;

			if (g->k[i].since == 0)
				continue;
			if (due < 0)
				due = 0;
			if (timeout < 0 || due < timeout)
				timeout = (long)due;
		}
		if (zmq_poll(it, n, timeout) < 0 && errno != EINTR)
			break;
		if (it[0].revents & ZMQ_POLLIN)
			break;
		while (g->zap != NULL && zap_one(g))
			;
		while (mon_one(g))
			;
		now = sipas_now_ms();
		for (int i = 0; i < NKINDS; i++)
			if (g->k[i].since > 0 &&
			    now - g->k[i].last_log >= g->every)
				emit(g, i, now);
	}
	return NULL;
}

static void close_sock(void **s)
{
	if (*s != NULL) {
		int zero = 0;

		zmq_setsockopt(*s, ZMQ_LINGER, &zero, sizeof zero);
		zmq_close(*s);
		*s = NULL;
	}
}

static sipas_err pair(void *zctx, void **a, void **b, const char *ep)
{
	int zero = 0;

	*a = zmq_socket(zctx, ZMQ_PAIR);
	*b = zmq_socket(zctx, ZMQ_PAIR);
	if (*a == NULL || *b == NULL ||
	    zmq_setsockopt(*a, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_setsockopt(*b, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_bind(*a, ep) != 0 || zmq_connect(*b, ep) != 0)
		return SIPAS_E_IO;
	return SIPAS_OK;
}

sipas_err sipas_curve_guard_new(sipas_curve_guard **out, void *zctx,
				void *sock, const sipas_curve_guard_opts *o,
				sipas_diag *diag)
{
	sipas_curve_guard *g = sipas_xcalloc(1, sizeof *g);
	sigset_t all, old;
	char ep[96];
	int zero = 0, err;
	sipas_err rv = SIPAS_E_IO;

	*out = NULL;
	pthread_mutex_init(&g->lock, NULL);
	g->allow = o->allow;
	g->curve = o->allow != NULL;
	g->every = o->log_every_ms > 0 ? o->log_every_ms
				       : SIPAS_CURVE_LOG_EVERY_MS;
	snprintf(g->prefix, sizeof g->prefix, "%s",
		 o->log_prefix ? o->log_prefix : "CURVE");
	snprintf(g->endpoint, sizeof g->endpoint, "%s",
		 o->endpoint ? o->endpoint : "the endpoint");
	if (g->curve) {
		g->zap = zmq_socket(zctx, ZMQ_REP);
		if (g->zap == NULL ||
		    zmq_setsockopt(g->zap, ZMQ_LINGER, &zero, sizeof zero) ||
		    zmq_bind(g->zap, ZAP_ENDPOINT) != 0) {
			sipas_diag_set(diag, "ZAP handler %s: %s", ZAP_ENDPOINT,
				       zmq_strerror(errno));
			goto fail;
		}
	}
	/* Names unique in the process: each guard is a different object. */
	snprintf(ep, sizeof ep, "inproc://sipas-curve-monitor-%p", (void *)g);
	if (zmq_socket_monitor(sock, ep, SIPAS_CURVE_FAILURE_EVENTS) != 0) {
		sipas_diag_set(diag, "socket monitor: %s", zmq_strerror(errno));
		goto fail;
	}
	g->mon = zmq_socket(zctx, ZMQ_PAIR);
	if (g->mon == NULL ||
	    zmq_setsockopt(g->mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_connect(g->mon, ep) != 0) {
		sipas_diag_set(diag, "socket monitor: %s", zmq_strerror(errno));
		goto fail;
	}
	snprintf(ep, sizeof ep, "inproc://sipas-curve-ctl-%p", (void *)g);
	if (pair(zctx, &g->ctl_main, &g->ctl_thread, ep) != SIPAS_OK) {
		sipas_diag_set(diag, "guard control: %s", zmq_strerror(errno));
		goto fail;
	}
	/* The sockets made here are used by the thread from now on; the
	 * thread start is the memory barrier ZeroMQ asks for when a
	 * socket changes threads. The thread blocks every signal (as
	 * libzmq's own threads do), so that SIGTERM and SIGHUP interrupt
	 * the daemon's main loop, not this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&g->thread, NULL, run, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		sipas_diag_set(diag, "guard thread: %s", strerror(err));
		goto fail;
	}
	g->started = true;
	*out = g;
	return SIPAS_OK;
fail:
	sipas_curve_guard_free(&g);
	return rv;
}

void sipas_curve_guard_reload(sipas_curve_guard *g, sipas_curve_allow *allow)
{
	sipas_curve_allow *old;

	if (!g->curve) {
		sipas_curve_allow_free(&allow);
		return;
	}
	pthread_mutex_lock(&g->lock);
	old = g->allow;
	g->allow = allow;
	pthread_mutex_unlock(&g->lock);
	sipas_curve_allow_free(&old);
}

void sipas_curve_guard_stats(const sipas_curve_guard *g,
			     sipas_curve_stats *out)
{
	sipas_curve_guard *m = (sipas_curve_guard *)g;

	memset(out, 0, sizeof *out);
	if (g == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	*out = g->stats;
	pthread_mutex_unlock(&m->lock);
}

uint64_t sipas_curve_denied(const sipas_curve_guard *g)
{
	sipas_curve_stats st;

	sipas_curve_guard_stats(g, &st);
	return st.denied + st.failed;
}

void sipas_curve_guard_free(sipas_curve_guard **gp)
{
	sipas_curve_guard *g;

	if (gp == NULL || *gp == NULL)
		return;
	g = *gp;
	if (g->started) {
		zmq_send(g->ctl_main, "", 0, 0);
		pthread_join(g->thread, NULL);
		/* What was counted and not logged yet. */
		for (int i = 0; i < NKINDS; i++)
			if (g->k[i].since > 0)
				emit(g, i, sipas_now_ms());
	}
	close_sock(&g->ctl_main);
	close_sock(&g->ctl_thread);
	close_sock(&g->mon);
	close_sock(&g->zap);
	sipas_curve_allow_free(&g->allow);
	pthread_mutex_destroy(&g->lock);
	free(g);
	*gp = NULL;
}
