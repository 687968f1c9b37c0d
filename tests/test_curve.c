/* test_curve.c - key files, allowlists, endpoint locality, and the guard
 * (ZAP handler and handshake failure counts) on real ZeroMQ sockets. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sipas_curve.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

/* dir/name */
static const char *at(const char *name)
{
	static char path[2][4200];
	static int k;

	k ^= 1;
	snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
	return path[k];
}

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	const char *path = at(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void keygen(const char *name, char pub[SIPAS_CURVE_Z85_LEN + 1])
{
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_curve_keygen(at(name), pub, &diag) == SIPAS_OK,
		      "%s", diag.msg);
}

START_TEST(test_curve_endpoint_is_local)
{
	static const struct {
		const char *ep;
		bool local;
	} cases[] = {
		{"ipc:///run/sipas/worker.sock", true},
		{"inproc://x", true},
		{"tcp://127.0.0.1:7300", true},
		{"tcp://127.3.2.1:7300", true},
		{"tcp://localhost:7300", true},
		{"tcp://LocalHost:7300", true},
		{"tcp://[::1]:7300", true},
		{"tcp://[::ffff:127.0.0.1]:7300", true},
		{"tcp://10.0.0.5:7300;127.0.0.1:7301", true},
		{"tcp://127.0.0.1:*", true},
		{"tcp://0.0.0.0:7300", false},
		{"tcp://*:7300", false},
		{"tcp://10.0.0.7:7301", false},
		{"tcp://128.0.0.1:7301", false},
		{"tcp://[::]:7300", false},
		{"tcp://[2001:db8::1]:7300", false},
		{"tcp://127.0.0.1:7300;10.0.0.7:7301", false},
		{"tcp://eth0:7300", false},
		{"tcp://lo:7300", false},
		{"tcp://localhost.example.org:7300", false},
		{"tcp://127.1:7300", false},
		{"tcp://127.0.0.1", false},
		{"tcp://[::1]7300", false},
		{"ws://127.0.0.1:7300", false},
		{"pgm://eth0;239.192.1.1:5555", false},
		{"", false},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(sipas_endpoint_is_local(cases[i].ep) ==
				      cases[i].local,
			      "%s: want %s", cases[i].ep,
			      cases[i].local ? "local" : "not local");
	ck_assert(!sipas_endpoint_is_local(NULL));
	ck_assert(sipas_curve_is_none(NULL));
	ck_assert(sipas_curve_is_none(""));
	ck_assert(sipas_curve_is_none("none"));
	ck_assert(!sipas_curve_is_none("./none"));
}
END_TEST

START_TEST(test_curve_keygen_files)
{
	char pub[SIPAS_CURVE_Z85_LEN + 1], again[SIPAS_CURVE_Z85_LEN + 1];
	char z85[SIPAS_CURVE_Z85_LEN + 1];
	sipas_curve_key pair, only;
	sipas_diag diag = {{0}};
	struct stat st;

	umask(0);
	keygen("a", pub);
	ck_assert_uint_eq(strlen(pub), SIPAS_CURVE_Z85_LEN);
	ck_assert_int_eq(stat(at("a.key"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(at("a.pub"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);

	ck_assert_err(sipas_curve_load_pair(at("a.key"), &pair, &diag),
		      SIPAS_OK);
	ck_assert(pair.has_secret);
	ck_assert_err(sipas_curve_load_public(at("a.pub"), &only, &diag),
		      SIPAS_OK);
	ck_assert(!only.has_secret);
	ck_assert_mem_eq(pair.pub, only.pub, SIPAS_CURVE_KEY_LEN);
	sipas_curve_z85(only.pub, z85);
	ck_assert_str_eq(z85, pub);
	sipas_curve_key_wipe(&pair);
	for (size_t i = 0; i < SIPAS_CURVE_KEY_LEN; i++)
		ck_assert_uint_eq(pair.sec[i], 0);

	/* Never overwritten: the secret key file stays what it was. */
	ck_assert_err(sipas_curve_keygen(at("a"), again, &diag),
		      SIPAS_E_USAGE);
	ck_assert_msg(strstr(diag.msg, "never overwritten") != NULL, "%s",
		      diag.msg);
	ck_assert_err(sipas_curve_load_public(at("a.pub"), &only, &diag),
		      SIPAS_OK);
	ck_assert_mem_eq(pair.pub, only.pub, SIPAS_CURVE_KEY_LEN);

	/* A public file in the way: no secret file is left behind. */
	write_file("b.pub", "x", 0644);
	ck_assert_err(sipas_curve_keygen(at("b"), again, &diag),
		      SIPAS_E_USAGE);
	ck_assert_int_ne(stat(at("b.key"), &st), 0);
	ck_assert_err(sipas_curve_keygen(at("no/such/dir/c"), again, &diag),
		      SIPAS_E_IO);
	ck_assert_err(sipas_curve_keygen(at(""), again, &diag),
		      SIPAS_E_USAGE);

	/* Two key pairs differ. */
	keygen("d", again);
	ck_assert_str_ne(pub, again);
}
END_TEST

START_TEST(test_curve_secret_must_be_private)
{
	char pub[SIPAS_CURVE_Z85_LEN + 1];
	sipas_curve_key k;
	sipas_diag diag = {{0}};

	static const mode_t refused[] = {0644, 0604, 0660, 0601, 0602, 0620};
	static const mode_t taken[] = {0600, 0400, 0640, 0440};

	keygen("a", pub);
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		char want[16];

		snprintf(want, sizeof want, "mode %04o", (unsigned)refused[i]);
		ck_assert_int_eq(chmod(at("a.key"), refused[i]), 0);
		ck_assert_err(sipas_curve_load_pair(at("a.key"), &k, &diag),
			      SIPAS_E_BAD_VALUE);
		ck_assert_msg(strstr(diag.msg, want) != NULL &&
				      strstr(diag.msg, "chmod 600") != NULL,
			      "%s", diag.msg);
	}
	/* Group read: root:sipas 0640, or systemd's credential ACL. */
	for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
		ck_assert_int_eq(chmod(at("a.key"), taken[i]), 0);
		ck_assert_err(sipas_curve_load_pair(at("a.key"), &k, &diag),
			      SIPAS_OK);
	}
}
END_TEST

START_TEST(test_curve_public_and_secret_files_not_mixed)
{
	char pub[SIPAS_CURVE_Z85_LEN + 1];
	sipas_curve_key k;
	sipas_diag diag = {{0}};

	keygen("a", pub);
	ck_assert_err(sipas_curve_load_pair(at("a.pub"), &k, &diag),
		      SIPAS_E_BAD_VALUE);
	ck_assert_msg(strstr(diag.msg, "no secret-key") != NULL, "%s",
		      diag.msg);
	ck_assert_err(sipas_curve_load_public(at("a.key"), &k, &diag),
		      SIPAS_E_BAD_VALUE);
	ck_assert_msg(strstr(diag.msg, "holds a secret key") != NULL, "%s",
		      diag.msg);
	ck_assert_err(sipas_curve_load_public(at("missing.pub"), &k, &diag),
		      SIPAS_E_IO);
	ck_assert_msg(strstr(diag.msg, "No such file") != NULL, "%s",
		      diag.msg);
	ck_assert_err(sipas_curve_load_public(dir, &k, &diag),
		      SIPAS_E_BAD_VALUE);
}
END_TEST

/* A key made elsewhere, for the file texts below. */
#define PUB "}fEV{aA/jGu[^pz&{eE-T%jEQ?5-vmeO&s?hR+?Q"
#define SEC "0msHdo##&%WfR-pGSQ}gW}Ok1@ffNeMkB.+x*:fa"
#define PUB2 "@r1WlefH?Snws5$Nup>TQDm{zkWikG/eN$PFpERK"

START_TEST(test_curve_file_errors)
{
	static const struct {
		const char *text;
		bool secret; /* read as a pair, else as a public key */
		const char *why; /* in the diag */
	} cases[] = {
		{"", false, "no public-key line"},
		{"# only a comment\n", false, "no public-key line"},
		{"public-key = \"" PUB "\"\n", false, "is not a section"},
		{"    public-key = \"" PUB "\"\n", false, "before any section"},
		{"keys\n    public-key = \"" PUB "\"\n", false,
		 "is not a section"},
		{"curve\npublic-key = \"" PUB "\"\n", false, "is not a section"},
		{"curve\n    public-key = " PUB "\n", false, "double quotes"},
		{"curve\n    public-key = \"" PUB "\n", false, "double quotes"},
		{"curve\n    public-key \"" PUB "\"\n", false,
		 "not a `name = \"value\"` line"},
		{"curve\n    public-key = \"" PUB "\" x\n", false,
		 "after the closing quote"},
		{"curve\n    public-key = \"abcde\"\n", false,
		 "not 40 characters of Z85"},
		{"curve\n    public-key = \"" PUB "0\"\n", false,
		 "not 40 characters of Z85"},
		{"curve\n    public-key = \"}fEV{aA/jGu[^pz&{eE-T%jEQ?5-vmeO&s?hR+ Q\"\n",
		 false, "not 40 characters of Z85"},
		{"curve\n    public-key = \"" PUB "\"\n    public-key = \"" PUB2
		 "\"\n",
		 false, ":3: a second public-key"},
		{"curve\n    public_key = \"" PUB "\"\n", false, "unknown key"},
		{"curve\n    secret-key = \"" SEC "\"\n", true,
		 "zzz-not-expected"},
		{"curve\n    public-key = \"" PUB2 "\"\n    secret-key = \"" SEC
		 "\"\n",
		 true, "is not the public half"},
		{"curve\n    secret-key = \"" SEC "\"\n    secret-key = \"" SEC
		 "\"\n",
		 true, ":3: a second secret-key"},
		{"curve\n    public-key = \"" PUB "\"\n    secret-key = \"x\"\n",
		 true, ":3: secret-key is not"},
	};
	sipas_diag diag;
	sipas_curve_key k;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *path = write_file(
			"t", cases[i].text, cases[i].secret ? 0600 : 0644);
		sipas_err rv;

		memset(&diag, 0, sizeof diag);
		rv = cases[i].secret ? sipas_curve_load_pair(path, &k, &diag)
				     : sipas_curve_load_public(path, &k, &diag);
		if (strcmp(cases[i].why, "zzz-not-expected") == 0) {
			/* A secret key alone is a pair: its public half is
			 * derived. */
			ck_assert_msg(rv == SIPAS_OK, "case %zu: %s", i,
				      diag.msg);
			continue;
		}
		ck_assert_msg(rv == SIPAS_E_BAD_VALUE, "case %zu: %s", i,
			      sipas_err_name(rv));
		ck_assert_msg(strstr(diag.msg, cases[i].why) != NULL &&
				      strstr(diag.msg, path) != NULL,
			      "case %zu: want '%s' and the path, got '%s'", i,
			      cases[i].why, diag.msg);
	}
	/* A NUL byte and an endless line. */
	{
		char text[2100];
		int fd = open(at("t"), O_WRONLY | O_TRUNC);

		ck_assert_int_eq(write(fd, "curve\n\0\n", 8), 8);
		close(fd);
		ck_assert_err(sipas_curve_load_public(at("t"), &k, &diag),
			      SIPAS_E_BAD_VALUE);
		ck_assert_msg(strstr(diag.msg, "NUL") != NULL, "%s", diag.msg);
		memset(text, '#', sizeof text - 1);
		text[sizeof text - 1] = '\0';
		write_file("t", text, 0644);
		ck_assert_err(sipas_curve_load_public(at("t"), &k, &diag),
			      SIPAS_E_BAD_VALUE);
		ck_assert_msg(strstr(diag.msg, ":1: line longer") != NULL, "%s",
			      diag.msg);
	}
}
END_TEST

/* The certificates CZMQ and pyzmq write, CR LF line ends, comments. */
START_TEST(test_curve_czmq_certificates)
{
	sipas_curve_key k, p;
	sipas_diag diag = {{0}};
	char z85[SIPAS_CURVE_Z85_LEN + 1];

	write_file("c.key_secret",
		   "#   ****  Generated on 2024-01-01 by CZMQ  ****\n"
		   "#   ZeroMQ CURVE **Secret** Certificate\n"
		   "\n"
		   "metadata\n"
		   "    name = \"portal\"\n"
		   "curve\n"
		   "    public-key = \"" PUB "\"\n"
		   "    secret-key = \"" SEC "\"\n",
		   0600);
	ck_assert_msg(sipas_curve_load_pair(at("c.key_secret"), &k, &diag) ==
			      SIPAS_OK,
		      "%s", diag.msg);
	write_file("c.key",
		   "#   ZeroMQ CURVE Public Certificate\r\n"
		   "metadata\r\n"
		   "curve\r\n"
		   "\tpublic-key = \"" PUB "\"  \r\n",
		   0644);
	ck_assert_msg(sipas_curve_load_public(at("c.key"), &p, &diag) ==
			      SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_mem_eq(k.pub, p.pub, SIPAS_CURVE_KEY_LEN);
	sipas_curve_z85(p.pub, z85);
	ck_assert_str_eq(z85, PUB);
}
END_TEST

START_TEST(test_curve_allowlist)
{
	char a[SIPAS_CURVE_Z85_LEN + 1], b[SIPAS_CURVE_Z85_LEN + 1];
	char c[SIPAS_CURVE_Z85_LEN + 1];
	sipas_curve_key ka, kb, kc;
	sipas_curve_allow *al = NULL;
	sipas_diag diag = {{0}};
	const char *name = NULL;
	char cmd[9000];

	ck_assert_int_eq(mkdir(at("keys"), 0755), 0);
	keygen("keys/portal", a);
	keygen("keys/postal", b);
	keygen("other", c);
	ck_assert_err(sipas_curve_load_public(at("keys/portal.pub"), &ka,
					      &diag), SIPAS_OK);
	ck_assert_err(sipas_curve_load_public(at("keys/postal.pub"), &kb,
					      &diag), SIPAS_OK);
	ck_assert_err(sipas_curve_load_public(at("other.pub"), &kc, &diag),
		      SIPAS_OK);
	/* The secret files in the folder are not *.pub: skipped, as are
	 * hidden files. */
	write_file("keys/.hidden.pub", "junk", 0644);
	write_file("keys/README", "junk", 0644);
	ck_assert_msg(sipas_curve_allow_load(&al, at("keys"), &diag) ==
			      SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_uint_eq(sipas_curve_allow_count(al), 2);
	ck_assert(sipas_curve_allow_has(al, ka.pub, &name));
	ck_assert_str_eq(name, "portal");
	ck_assert(sipas_curve_allow_has(al, kb.pub, &name));
	ck_assert_str_eq(name, "postal");
	ck_assert(!sipas_curve_allow_has(al, kc.pub, NULL));
	sipas_curve_allow_free(&al);
	ck_assert_ptr_null(al);

	/* A secret key named *.pub is refused, with the whole list. */
	snprintf(cmd, sizeof cmd, "cp %s %s", at("other.key"),
		 at("keys/bad.pub"));
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_err(sipas_curve_allow_load(&al, at("keys"), &diag),
		      SIPAS_E_BAD_VALUE);
	ck_assert_ptr_null(al);
	ck_assert_msg(strstr(diag.msg, "bad.pub") != NULL, "%s", diag.msg);

	/* An empty folder would refuse everybody. */
	ck_assert_int_eq(mkdir(at("empty"), 0755), 0);
	ck_assert_err(sipas_curve_allow_load(&al, at("empty"), &diag),
		      SIPAS_E_BAD_VALUE);
	ck_assert_msg(strstr(diag.msg, "no *.pub") != NULL, "%s", diag.msg);
	ck_assert_err(sipas_curve_allow_load(&al, at("nowhere"), &diag),
		      SIPAS_E_IO);

	/* One file, several keys. */
	snprintf(cmd, sizeof cmd,
		 "# clients\ncurve\n    public-key = \"%s\"\n"
		 "    public-key = \"%s\"\n",
		 a, c);
	write_file("list", cmd, 0644);
	ck_assert_msg(sipas_curve_allow_load(&al, at("list"), &diag) ==
			      SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_uint_eq(sipas_curve_allow_count(al), 2);
	ck_assert(sipas_curve_allow_has(al, kc.pub, &name));
	ck_assert_str_eq(name, "list:4");
	ck_assert(!sipas_curve_allow_has(al, kb.pub, NULL));
	sipas_curve_allow_free(&al);
	write_file("list", "# nobody\n", 0644);
	ck_assert_err(sipas_curve_allow_load(&al, at("list"), &diag),
		      SIPAS_E_BAD_VALUE);
	sipas_curve_allow_free(NULL);
}
END_TEST

/* ---- the guard, on real sockets ---- */

struct server {
	void *zctx, *sock;
	sipas_curve_guard *guard;
	char ep[64];
	sipas_curve_key key;
};

/* A ROUTER on loopback tcp with a guard; CURVE when allow is given. */
static void server_start(struct server *s, sipas_curve_allow *allow)
{
	sipas_curve_guard_opts o = {"TEST", "test", allow, 0};
	sipas_diag diag = {{0}};
	char pub[SIPAS_CURVE_Z85_LEN + 1];
	size_t n = sizeof s->ep;

	memset(s, 0, sizeof *s);
	s->zctx = zmq_ctx_new();
	s->sock = zmq_socket(s->zctx, ZMQ_ROUTER);
	if (allow != NULL) {
		keygen("server", pub);
		ck_assert_err(sipas_curve_load_pair(at("server.key"), &s->key,
						    &diag), SIPAS_OK);
		ck_assert_err(sipas_curve_set_server(s->sock, &s->key, &diag),
			      SIPAS_OK);
	}
	ck_assert_msg(sipas_curve_guard_new(&s->guard, s->zctx, s->sock, &o,
					    &diag) == SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_int_eq(zmq_bind(s->sock, "tcp://127.0.0.1:*"), 0);
	ck_assert_int_eq(zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->ep, &n),
			 0);
}

static void server_stop(struct server *s)
{
	int zero = 0;

	zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
	zmq_close(s->sock);
	sipas_curve_guard_free(&s->guard);
	ck_assert_ptr_null(s->guard);
	zmq_ctx_term(s->zctx);
}

/* A DEALER client of s; CURVE with `own` and the server key `server`
 * when own is given. */
static void *client(struct server *s, const sipas_curve_key *own,
		    const sipas_curve_key *server)
{
	void *c = zmq_socket(s->zctx, ZMQ_DEALER);
	sipas_diag diag = {{0}};
	int zero = 0;

	zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero);
	if (own != NULL)
		ck_assert_err(sipas_curve_set_client(c, own, server, &diag),
			      SIPAS_OK);
	ck_assert_int_eq(zmq_connect(c, s->ep), 0);
	return c;
}

/* True when the server reads `text` from a client within ms (what the
 * client had queued before is read and dropped). */
static bool delivered(struct server *s, void *c, const char *text, int ms)
{
	zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
	struct timespec t0, t1;
	char buf[64];
	int n, left = ms;

	ck_assert_int_eq(zmq_send(c, text, strlen(text), ZMQ_DONTWAIT),
			 (int)strlen(text));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left > 0 && zmq_poll(&it, 1, left) > 0) {
		ck_assert_int_gt(zmq_recv(s->sock, buf, sizeof buf, 0), 0);
		n = zmq_recv(s->sock, buf, sizeof buf - 1, 0);
		ck_assert_int_ge(n, 0);
		buf[n] = '\0';
		if (strcmp(buf, text) == 0)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
				  (t1.tv_nsec - t0.tv_nsec) / 1000000);
	}
	return false;
}

/* Wait up to ms for a counter to reach want. */
static bool counted(struct server *s, int which, uint64_t want, int ms)
{
	struct timespec pause = {0, 10 * 1000 * 1000};

	for (int i = 0; i < ms / 10; i++) {
		sipas_curve_stats st;

		sipas_curve_guard_stats(s->guard, &st);
		if ((which == 0 ? st.allowed
				: which == 1 ? st.denied : st.failed) >= want)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

static sipas_curve_allow *allow_of(const char *name)
{
	sipas_curve_allow *a = NULL;
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_curve_allow_load(&a, at(name), &diag) == SIPAS_OK,
		      "%s", diag.msg);
	return a;
}

START_TEST(test_curve_guard_admits_listed_keys_only)
{
	char pub[SIPAS_CURVE_Z85_LEN + 1];
	sipas_curve_key good, bad, wrong_server, server_pub;
	sipas_curve_stats st;
	sipas_diag diag = {{0}};
	struct server s;
	void *cg, *cb, *cw;

	keygen("good", pub);
	keygen("bad", pub);
	keygen("impostor", pub);
	ck_assert_err(sipas_curve_load_pair(at("good.key"), &good, &diag),
		      SIPAS_OK);
	ck_assert_err(sipas_curve_load_pair(at("bad.key"), &bad, &diag),
		      SIPAS_OK);
	ck_assert_err(sipas_curve_load_public(at("impostor.pub"),
					      &wrong_server, &diag), SIPAS_OK);
	server_start(&s, allow_of("good.pub"));
	ck_assert_uint_eq(sipas_curve_denied(s.guard), 0);
	ck_assert_err(sipas_curve_load_public(at("server.pub"), &server_pub,
					      &diag), SIPAS_OK);

	cg = client(&s, &good, &server_pub);
	ck_assert(delivered(&s, cg, "hello", 5000));
	ck_assert(counted(&s, 0, 1, 1000));

	/* A key not in the list: refused and counted, the server lives. */
	cb = client(&s, &bad, &server_pub);
	ck_assert(!delivered(&s, cb, "intruder", 500));
	ck_assert(counted(&s, 1, 1, 2000));
	/* A client with the wrong server key: its hello cannot even be
	 * opened; a failure, not a refusal. */
	cw = client(&s, &good, &wrong_server);
	ck_assert(!delivered(&s, cw, "lost", 500));
	ck_assert(counted(&s, 2, 1, 2000));
	/* The good client is unaffected. */
	for (int i = 0; i < 20; i++)
		ck_assert(delivered(&s, cg, "again", 2000));
	sipas_curve_guard_stats(s.guard, &st);
	ck_assert_uint_eq(sipas_curve_denied(s.guard), st.denied + st.failed);
	ck_assert_uint_ge(st.denied, 1);

	/* Reload: the refused key is listed now. libzmq 4.3 does not retry
	 * a refused connection: a new one with that key gets in. */
	sipas_curve_guard_reload(s.guard, allow_of("."));
	zmq_close(cb);
	cb = client(&s, &bad, &server_pub);
	ck_assert(delivered(&s, cb, "now allowed", 5000));
	ck_assert(delivered(&s, cg, "good still", 2000));

	zmq_close(cg);
	zmq_close(cb);
	zmq_close(cw);
	server_stop(&s);
	sipas_curve_key_wipe(&good);
	sipas_curve_key_wipe(&bad);
}
END_TEST

/* Without a ZAP handler libzmq admits any CURVE client: the guard must
 * be started before the socket is bound. This shows that the test above
 * depends on the guard, not on something else refusing the key. */
START_TEST(test_curve_no_guard_admits_anyone)
{
	char pub[SIPAS_CURVE_Z85_LEN + 1];
	sipas_curve_key server, bad;
	sipas_diag diag = {{0}};
	void *zctx = zmq_ctx_new(), *srv, *c;
	zmq_pollitem_t it;
	char ep[64], buf[16];
	size_t n = sizeof ep;
	int zero = 0;

	keygen("server", pub);
	keygen("bad", pub);
	ck_assert_err(sipas_curve_load_pair(at("server.key"), &server, &diag),
		      SIPAS_OK);
	ck_assert_err(sipas_curve_load_pair(at("bad.key"), &bad, &diag),
		      SIPAS_OK);
	srv = zmq_socket(zctx, ZMQ_ROUTER);
	ck_assert_err(sipas_curve_set_server(srv, &server, &diag), SIPAS_OK);
	ck_assert_int_eq(zmq_bind(srv, "tcp://127.0.0.1:*"), 0);
	zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &n);
	c = zmq_socket(zctx, ZMQ_DEALER);
	ck_assert_err(sipas_curve_set_client(c, &bad, &server, &diag),
		      SIPAS_OK);
	zmq_connect(c, ep);
	zmq_send(c, "x", 1, 0);
	it = (zmq_pollitem_t){srv, 0, ZMQ_POLLIN, 0};
	ck_assert_int_eq(zmq_poll(&it, 1, 5000), 1);
	ck_assert_int_gt(zmq_recv(srv, buf, sizeof buf, 0), 0);
	zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(srv, ZMQ_LINGER, &zero, sizeof zero);
	zmq_close(c);
	zmq_close(srv);
	zmq_ctx_term(zctx);
}
END_TEST

/* A plain socket's guard counts a CURVE client as a failed handshake
 * (CURVE on one side only), and a plain client gets in. */
START_TEST(test_curve_guard_plain_socket)
{
	char pub[SIPAS_CURVE_Z85_LEN + 1];
	sipas_curve_key own, server;
	sipas_diag diag = {{0}};
	struct server s;
	void *plain, *curve;

	keygen("own", pub);
	keygen("srv", pub);
	ck_assert_err(sipas_curve_load_pair(at("own.key"), &own, &diag),
		      SIPAS_OK);
	ck_assert_err(sipas_curve_load_public(at("srv.pub"), &server, &diag),
		      SIPAS_OK);
	server_start(&s, NULL);
	plain = client(&s, NULL, NULL);
	ck_assert(delivered(&s, plain, "plain", 5000));
	curve = client(&s, &own, &server);
	ck_assert(!delivered(&s, curve, "curve", 300));
	ck_assert(counted(&s, 2, 1, 2000));
	ck_assert_uint_ge(sipas_curve_denied(s.guard), 1);
	ck_assert_uint_eq(sipas_curve_denied(NULL), 0);
	/* Reloading a plain socket's guard keeps it plain. */
	keygen("x", pub);
	sipas_curve_guard_reload(s.guard, allow_of("x.pub"));
	ck_assert(delivered(&s, plain, "still", 2000));
	zmq_close(plain);
	zmq_close(curve);
	server_stop(&s);
	sipas_curve_guard_free(NULL);
}
END_TEST

START_TEST(test_curve_failure_text)
{
	ck_assert_ptr_nonnull(strstr(
		sipas_curve_failure_text(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 400,
					 true),
		"allowlist"));
	ck_assert_ptr_nonnull(strstr(
		sipas_curve_failure_text(
			ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
			ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, true),
		"wrong server public key"));
	ck_assert_ptr_nonnull(strstr(
		sipas_curve_failure_text(
			ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
			ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, false),
		"disagree on CURVE"));
	ck_assert_ptr_nonnull(sipas_curve_failure_text(0, 0, false));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("curve");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_curve_endpoint_is_local);
	tcase_add_test(tc, test_curve_keygen_files);
	tcase_add_test(tc, test_curve_secret_must_be_private);
	tcase_add_test(tc, test_curve_public_and_secret_files_not_mixed);
	tcase_add_test(tc, test_curve_file_errors);
	tcase_add_test(tc, test_curve_czmq_certificates);
	tcase_add_test(tc, test_curve_allowlist);
	tcase_add_test(tc, test_curve_guard_admits_listed_keys_only);
	tcase_add_test(tc, test_curve_no_guard_admits_anyone);
	tcase_add_test(tc, test_curve_guard_plain_socket);
	tcase_add_test(tc, test_curve_failure_text);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
