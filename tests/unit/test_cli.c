/*
 * The CLI's pieces: control_request() against an in-test daemon stand-in
 * (a thread answering canned documents on a Unix socket), the human status
 * format, and the built `meshgate` binary itself when it sits next to the
 * tests (genkey/pubkey known answers, exit codes, --socket placement; the
 * device commands: the config, key pair and QR codes they make of the
 * daemon's answers, polling while a member waits, one-line errors).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control_client.h"
#include "keys.h"
#include "status_format.h"
#include "testlib.h"

/* ---- a stand-in daemon ---- */

enum { FAKE_ANSWERS_MAX = 8 };

struct fake_daemon {
	char dir[64], path[108];
	int listen_fd;
	const char *answers[FAKE_ANSWERS_MAX]; /* written to the clients in turn */
	int clients;                           /* connections to serve before the thread ends */
	char request[1024];                    /* the last request read */
	int served;                            /* connections answered */
	atomic_bool stopping;                  /* no more clients are coming */
	pthread_t thread;
};

static void serve_one(struct fake_daemon *d, int fd, const char *answer)
{
	size_t used = 0;
	ssize_t n;

	/* The client ends its request by shutting down its write side. */
	while (used + 1 < sizeof(d->request) &&
	       (n = read(fd, d->request + used, sizeof(d->request) - 1 - used)) > 0)
		used += (size_t)n;
	d->request[used] = '\0';
	if (write(fd, answer, strlen(answer)) < 0)
		perror("fake daemon write");
}

/* Waits for a client while the test has not stopped the daemon. */
static int fake_daemon_accept(struct fake_daemon *d)
{
	struct pollfd pfd = { .fd = d->listen_fd, .events = POLLIN };

	while (!atomic_load(&d->stopping))
		if (poll(&pfd, 1, 100) == 1)
			return accept(d->listen_fd, NULL, NULL);
	return -1;
}

static void *fake_daemon_run(void *arg)
{
	struct fake_daemon *d = arg;

	for (int i = 0; i < d->clients; i++) {
		int fd = fake_daemon_accept(d);
		if (fd < 0)
			break;
		serve_one(d, fd, d->answers[i]);
		close(fd);
		d->served++;
	}
	return NULL;
}

/* Serves clients connections (at most 4), answering answers[0], [1], ... */
static bool fake_daemon_start(struct fake_daemon *d, const char *const *answers, int clients)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(d, 0, sizeof(*d));
	atomic_init(&d->stopping, false);
	strcpy(d->dir, "/tmp/meshgate-cli-XXXXXX");
	if (!CHECK(mkdtemp(d->dir) != NULL))
		return false;
	snprintf(d->path, sizeof(d->path), "%s/ctl.sock", d->dir);
	strcpy(sun.sun_path, d->path);
	for (int i = 0; i < clients && i < FAKE_ANSWERS_MAX; i++)
		d->answers[i] = answers[i];
	d->clients = clients < FAKE_ANSWERS_MAX ? clients : FAKE_ANSWERS_MAX;
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!CHECK(d->listen_fd >= 0) ||
	    !CHECK(bind(d->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) ||
	    !CHECK(listen(d->listen_fd, 4) == 0))
		return false;
	return CHECK(pthread_create(&d->thread, NULL, fake_daemon_run, d) == 0);
}

/* Ends the daemon; a client that never came is a failure, not a hang. */
static void fake_daemon_stop(struct fake_daemon *d)
{
	atomic_store(&d->stopping, true);
	pthread_join(d->thread, NULL);
	CHECK_EQ_INT(d->served, d->clients);
	close(d->listen_fd);
	unlink(d->path);
	rmdir(d->dir);
}

static const char status_doc[] =
    "{\"self\": {\"name\": \"home\", \"public_key\": "
    "\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\", \"addresses\": [\"100.64.0.1/10\", "
    "\"fd7a:6d67:7465::1/48\"], \"listen_port\": 41641, \"coordinator\": true, "
    "\"role\": \"coordinator\", \"role_origin\": \"meshgate init\", "
    "\"advertised_routes\": [\"192.168.1.0/24\"], \"exit_node_offered\": true, "
    "\"exit_node_in_use\": null},\n"
    " \"peers\": [{\"name\": \"laptop\", \"public_key\": "
    "\"I5/h/qsGhhR+WdJLQ0f4JHAGceyiqDT6tc1rBIPX5k4=\", \"addresses\": [\"100.64.0.2/32\"], "
    "\"endpoint\": \"203.0.113.7:41641\", \"path\": \"direct\", \"last_handshake\": 988, "
    "\"rx_bytes\": 1258291, \"tx_bytes\": 348160, \"routes\": [], \"exit_node\": false, "
    "\"online\": true},\n"
    "  {\"name\": \"phone\", \"public_key\": \"gW3oaPhdYuG3A4TOpSNTJKToAsJEE/7YiWRMx5VBYHM=\", "
    "\"addresses\": [\"100.64.0.30/32\", \"fd7a:6d67:7465::30/128\"], \"endpoint\": null, "
    "\"path\": \"none\", \"last_handshake\": 0, \"rx_bytes\": 0, \"tx_bytes\": 0, "
    "\"routes\": [\"10.20.0.0/16\"], \"exit_node\": true, \"online\": false}]}";

static const char status_human[] =
    "home (this node)  100.64.0.1, fd7a:6d67:7465::1  key hSDwCYkw\xe2\x80\xa6  port 41641  "
    "coordinator (meshgate init)  offers exit node  routes: 192.168.1.0/24\n"
    "100.64.0.2   laptop  direct 203.0.113.7:41641  12s ago  rx 1.2 MiB  tx 340.0 KiB\n"
    "100.64.0.30  phone   none                      never    rx 0 B      tx 0 B        "
    "offline; exit node; routes: 10.20.0.0/16\n";

/* ---- control_request ---- */

static void test_request_ok(void)
{
	struct fake_daemon d;
	char answer[sizeof(status_doc) + 64], err[256];
	json_t *req = json_pack("{s:s}", "cmd", "status"), *result = NULL;

	snprintf(answer, sizeof(answer), "{\"ok\": true, \"result\": %s}", status_doc);
	if (!fake_daemon_start(&d, (const char *[]){ answer }, 1))
		return;
	CHECK_EQ_INT(control_request(d.path, req, &result, err, sizeof(err)), 0);
	fake_daemon_stop(&d);
	CHECK(strcmp(d.request, "{\"cmd\":\"status\"}\n") == 0);
	CHECK(json_is_object(result));
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(result, "self"), "name")),
		     "home") == 0);
	json_decref(result);
	json_decref(req);
}

static void check_request_fails(const char *answer, int want_ret, const char *want_err)
{
	struct fake_daemon d;
	char err[256] = "";
	json_t *req = json_pack("{s:s}", "cmd", "status"), *result = NULL;

	if (!fake_daemon_start(&d, &answer, 1))
		return;
	CHECK_EQ_INT(control_request(d.path, req, &result, err, sizeof(err)), want_ret);
	fake_daemon_stop(&d);
	if (!CHECK(strcmp(err, want_err) == 0))
		fprintf(stderr, "  got '%s'\n", err);
	CHECK(result == NULL);
	json_decref(req);
}

static void test_request_errors(void)
{
	char err[256], want[256];
	json_t *req = json_pack("{s:s}", "cmd", "status"), *result = NULL;

	check_request_fails("{\"ok\": false, \"error\": \"unknown command\"}", -EREMOTEIO,
			    "unknown command");
	check_request_fails("{\"ok\": false}", -EREMOTEIO, "request failed");
	check_request_fails("", -EPROTO,
			    "invalid answer from meshgated: '[' or '{' expected near end of file");
	check_request_fails("{\"result\": 1}", -EPROTO, "invalid answer from meshgated: no \"ok\"");

	CHECK_EQ_INT(control_request("/nonexistent/ctl.sock", req, &result, err, sizeof(err)),
		     -ENOENT);
	snprintf(want, sizeof(want),
		 "cannot reach meshgated at /nonexistent/ctl.sock: %s (is it running?)",
		 strerror(ENOENT));
	CHECK(strcmp(err, want) == 0);
	CHECK(result == NULL);
	json_decref(req);
}

static void test_request_no_result(void)
{
	struct fake_daemon d;
	char err[64];
	json_t *req = json_pack("{s:s}", "cmd", "x"), *result = NULL;

	if (!fake_daemon_start(&d, (const char *[]){ "{\"ok\": true}" }, 1))
		return;
	CHECK_EQ_INT(control_request(d.path, req, &result, err, sizeof(err)), 0);
	fake_daemon_stop(&d);
	CHECK(json_is_null(result));
	json_decref(result);
	json_decref(req);
}

/* ---- human format ---- */

static void test_format_human(void)
{
	CHECK_STATUS_TEXT(status_doc, 1000, status_human);
	CHECK_STATUS_TEXT("{}", 0, "- (this node)  -  key -\nno peers\n");
	/* Wrong types print as "-" or zero, never crash. */
	CHECK_STATUS_TEXT("{\"self\": [], \"peers\": [1, {\"name\": 5, \"addresses\": \"x\", "
			  "\"rx_bytes\": -5, \"online\": true}]}",
			  0,
			  "- (this node)  -  key -\n"
			  "-  -  -  never  rx 0 B  tx 0 B  offline\n"
			  "-  -  -  never  rx 0 B  tx 0 B\n");
	CHECK_STATUS_TEXT(
	    "{\"self\": {\"name\": \"n\", \"exit_node_in_use\": \"home\"}, \"peers\": []}", 0,
	    "n (this node)  -  key -  exit node: home\nno peers\n");
}

static void check_age(time_t then, time_t now, const char *want)
{
	char out[32];

	status_format_age(out, sizeof(out), then, now);
	if (!CHECK(strcmp(out, want) == 0))
		fprintf(stderr, "  age %ld at %ld: '%s', want '%s'\n", (long)then, (long)now, out,
			want);
}

static void check_bytes(uint64_t bytes, const char *want)
{
	char out[32];

	status_format_bytes(out, sizeof(out), bytes);
	if (!CHECK(strcmp(out, want) == 0))
		fprintf(stderr, "  %llu bytes: '%s', want '%s'\n", (unsigned long long)bytes, out,
			want);
}

static void test_format_units(void)
{
	check_age(0, 1000, "never");
	check_age(1000, 1000, "0s ago");
	check_age(1005, 1000, "0s ago");
	check_age(941, 1000, "59s ago");
	check_age(940, 1000, "1m ago");
	check_age(1000, 1000 + 3599, "59m ago");
	check_age(1000, 1000 + 7300, "2h ago");
	check_age(1000, 1000 + 3 * 86400 + 5, "3d ago");
	check_bytes(0, "0 B");
	check_bytes(1023, "1023 B");
	check_bytes(1024, "1.0 KiB");
	check_bytes(1536, "1.5 KiB");
	check_bytes(1048575, "1024.0 KiB");
	check_bytes(1ull << 30, "1.0 GiB");
	check_bytes(UINT64_MAX, "16.0 EiB");
}

/* ---- the binary ---- */

static char cli_path[PATH_MAX];

/* The meshgate binary next to the test directory, or false to skip. */
static bool find_cli(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return false;
	self[n] = '\0';
	snprintf(cli_path, sizeof(cli_path), "%s/../meshgate", dirname(self));
	if (access(cli_path, X_OK) == 0)
		return true;
	printf("skip: %s not built\n", cli_path);
	return false;
}

/* Runs "meshgate ARGS" through the shell; stdout/stderr into out/err, files
 * only the owner reads (or a printed private key would be warned about). */
static int run_cli(const char *args, const char *input, char *out, size_t outlen, char *err,
		   size_t errlen)
{
	char cmd[PATH_MAX * 2], out_path[64], err_path[64];
	char *text;
	int status;

	snprintf(out_path, sizeof(out_path), "/tmp/meshgate-cli-%d.out", (int)getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/meshgate-cli-%d.err", (int)getpid());
	snprintf(cmd, sizeof(cmd), "umask 077; printf '%%s' '%s' | %s %s >%s 2>%s",
		 input ? input : "", cli_path, args, out_path, err_path);
	status = system(cmd);
	text = test_read_file(out_path, NULL);
	snprintf(out, outlen, "%s", text ? text : "");
	free(text);
	text = test_read_file(err_path, NULL);
	snprintf(err, errlen, "%s", text ? text : "");
	free(text);
	unlink(out_path);
	unlink(err_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_keys(void)
{
	char out[256], err[512], key[64];

	if (!find_cli())
		return;
	/* RFC 7748 section 6.1: Alice's private and public keys. */
	CHECK_EQ_INT(run_cli("pubkey", "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", out,
			     sizeof(out), err, sizeof(err)),
		     0);
	CHECK(strcmp(out, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n") == 0);
	CHECK_EQ_INT(run_cli("pubkey", "not a key", out, sizeof(out), err, sizeof(err)), 1);
	CHECK(strstr(err, "meshgate: pubkey: ") == err &&
	      strchr(err, '\n') == err + strlen(err) - 1);

	CHECK_EQ_INT(run_cli("genkey", NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strlen(out) == 45 && out[44] == '\n');
	snprintf(key, sizeof(key), "%.44s", out);
	/* Its public key is what `wg pubkey` says, when wg is installed. */
	CHECK_EQ_INT(run_cli("pubkey", key, out, sizeof(out), err, sizeof(err)), 0);
	if (system("command -v wg >/dev/null 2>&1") == 0) {
		char cmd[256], *wg_out;
		snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | wg pubkey >/tmp/meshgate-wg.out",
			 key);
		CHECK(system(cmd) == 0);
		wg_out = test_read_file("/tmp/meshgate-wg.out", NULL);
		CHECK(wg_out && strcmp(wg_out, out) == 0);
		free(wg_out);
		unlink("/tmp/meshgate-wg.out");
	}
}

static void test_cli_usage(void)
{
	char out[2048], err[512];

	if (!find_cli())
		return;
	CHECK_EQ_INT(run_cli("--help", NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "usage: meshgate") == out && strstr(out, "genkey"));
	CHECK_EQ_INT(run_cli("", NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK_EQ_INT(run_cli("frobnicate", NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK(strstr(err, "meshgate: unknown command 'frobnicate'") == err);
	CHECK_EQ_INT(run_cli("status --frob", NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK_EQ_INT(run_cli("genkey extra", NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK_EQ_INT(run_cli("status --socket", NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK_EQ_INT(run_cli("status --help", NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "usage: meshgate status [--json]") == out);
	CHECK_EQ_INT(run_cli("--socket /nonexistent/x.sock status", NULL, out, sizeof(out), err,
			     sizeof(err)),
		     1);
	CHECK(strstr(err, "meshgate: cannot reach meshgated at /nonexistent/x.sock: ") == err);
	CHECK(strstr(err, "(is it running?)\n") && strchr(err, '\n') == err + strlen(err) - 1);
}

static void test_cli_status(void)
{
	struct fake_daemon d;
	char answer[sizeof(status_doc) + 64], args[256], out[4096], err[512];

	if (!find_cli())
		return;
	snprintf(answer, sizeof(answer), "{\"ok\": true, \"result\": %s}", status_doc);
	if (!fake_daemon_start(
		&d, (const char *[]){ answer, answer, "{\"ok\": false, \"error\": \"not ready\"}" },
		3))
		return;
	/* --socket before the command, and after it. */
	snprintf(args, sizeof(args), "--socket %s status --json", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "{\n  \"self\": {\n    \"name\": \"home\",") == out);
	snprintf(args, sizeof(args), "status --socket=%s", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strncmp(out, status_human, strcspn(status_human, "\n")) == 0);
	snprintf(args, sizeof(args), "status --socket %s", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 1);
	CHECK(strcmp(err, "meshgate: not ready\n") == 0);
	fake_daemon_stop(&d);
}

/* ---- meshgate device ---- */

#define HUB_KEY "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="

/* A device_add answer: done at once (the coordinator is the hub). */
static void device_answer(char *out, size_t len, const char *endpoint, bool endpoint_private,
			  bool exit_node)
{
	snprintf(out, len,
		 "{\"ok\": true, \"result\": {\"state\": \"done\", \"device\": {\"name\": "
		 "\"phone\", \"addresses\": [\"100.64.0.7/32\", \"fd7a:6d67:7465::7/128\"], "
		 "\"hub\": \"home\", \"exit_node\": %s}, \"config\": {\"hub\": \"home\", "
		 "\"hub_public_key\": \"" HUB_KEY "\", \"endpoint\": %s, \"endpoint_private\": "
		 "%s, \"allowed_ips\": [\"100.64.0.0/10\", \"fd7a:6d67:7465::/48\", "
		 "\"192.168.77.0/24\"], \"exit_node\": %s, \"mtu\": 1280, \"dns\": []}, "
		 "\"warnings\": [%s]}}",
		 exit_node ? "true" : "false", endpoint ? endpoint : "null",
		 endpoint_private ? "true" : "false", exit_node ? "true" : "false",
		 exit_node ? "\"the exit of home is not approved yet: meshgate routes approve home "
			     "0.0.0.0/0 ::/0\""
			   : "");
}

/* Whether err is exactly one line "meshgate: " + want... */
static bool one_line(const char *err, const char *want)
{
	char prefix[256];

	snprintf(prefix, sizeof(prefix), "meshgate: %s", want);
	if (strncmp(err, prefix, strlen(prefix)) == 0 && strchr(err, '\n') == err + strlen(err) - 1)
		return true;
	fprintf(stderr, "  stderr: %s  want: %s...\n", err, prefix);
	return false;
}

/* The value of "KEY = value" in a wg-quick text, into out. */
static bool config_value(const char *text, const char *key, char *out, size_t len)
{
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\n%s = ", key);
	p = strstr(text, pattern);
	if (!p)
		return false;
	p += strlen(pattern);
	snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
	return true;
}

/* The key pair is made here: the daemon gets the public half only, and the
 * printed private key is its other half. */
static void check_device_keys(const char *out, const char *request)
{
	char priv_text[64] = "", pub_text[KEY_B64_LEN + 1];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	json_t *req = json_loads(request, 0, NULL);

	CHECK(config_value(out, "PrivateKey", priv_text, sizeof(priv_text)));
	if (!CHECK(key_from_base64(priv, priv_text) && key_public_from_private(pub, priv)))
		return;
	key_to_base64(pub_text, pub);
	CHECK(req && strcmp(json_string_value(json_object_get(req, "public_key")), pub_text) == 0);
	CHECK(strstr(request, priv_text) == NULL);
	json_decref(req);
}

static void test_cli_device_add(void)
{
	static const char want_tail[] =
	    "Address = 100.64.0.7/32, fd7a:6d67:7465::7/128\n"
	    "MTU = 1280\n"
	    "\n"
	    "[Peer]\n"
	    "PublicKey = " HUB_KEY "\n"
	    "Endpoint = 203.0.113.2:41641\n"
	    "AllowedIPs = 100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24, 0.0.0.0/0, ::/0\n"
	    "PersistentKeepalive = 25\n";
	struct fake_daemon d;
	char answer[2048], args[512], out[4096], err[1024], cmd[PATH_MAX + 512];
	json_t *req;

	if (!find_cli())
		return;
	device_answer(answer, sizeof(answer), "\"203.0.113.2:41641\"", false, true);
	if (!fake_daemon_start(&d, (const char *[]){ answer, answer }, 2))
		return;
	snprintf(args, sizeof(args), "--socket %s device add phone --exit", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strncmp(out, "# meshgate device phone, hub home\n[Interface]\nPrivateKey = ", 59) ==
	      0);
	CHECK(strlen(out) > strlen(want_tail) &&
	      strcmp(out + strlen(out) - strlen(want_tail), want_tail) == 0);
	check_device_keys(out, d.request);
	req = json_loads(d.request, 0, NULL);
	CHECK(req && strcmp(json_string_value(json_object_get(req, "cmd")), "device_add") == 0 &&
	      strcmp(json_string_value(json_object_get(req, "name")), "phone") == 0 &&
	      json_is_true(json_object_get(req, "exit")));
	json_decref(req);
	/* The daemon's warning; stdout is no terminal, so no QR code. */
	CHECK(strcmp(err, "meshgate: warning: the exit of home is not approved yet: meshgate "
			  "routes approve home 0.0.0.0/0 ::/0\n") == 0);
	CHECK(!strstr(out, "\xe2\x96"));
	/* The key printed into a file others can read: one more warning. */
	snprintf(cmd, sizeof(cmd),
		 "umask 022; %s --socket %s device add phone --exit >%s.conf 2>%s.err", cli_path,
		 d.path, d.path, d.path);
	if (CHECK(system(cmd) == 0)) {
		char *world;
		snprintf(args, sizeof(args), "%s.err", d.path);
		world = test_read_file(args, NULL);
		CHECK(world &&
		      strstr(world, "meshgate: warning: the device's private key goes to a "
				    "file others can read (umask 077 first)\n"));
		free(world);
		unlink(args);
		snprintf(args, sizeof(args), "%s.conf", d.path);
		unlink(args);
	}
	fake_daemon_stop(&d);
}

/* A key made on the device; endpoints: a LAN one, none, one given. */
static void test_cli_device_endpoints(void)
{
	struct fake_daemon d;
	char answers[3][2048], args[512], out[4096], err[1024], value[128];
	json_t *req;

	if (!find_cli())
		return;
	device_answer(answers[0], sizeof(answers[0]), "\"192.168.1.2:41641\"", true, false);
	device_answer(answers[1], sizeof(answers[1]), NULL, false, false);
	device_answer(answers[2], sizeof(answers[2]), "\"192.168.1.2:41641\"", true, false);
	if (!fake_daemon_start(&d, (const char *[]){ answers[0], answers[1], answers[2] }, 3))
		return;
	snprintf(args, sizeof(args), "--socket %s device add phone --public-key %s", d.path,
		 "gW3oaPhdYuG3A4TOpSNTJKToAsJEE/7YiWRMx5VBYHM=");
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "\n# PrivateKey = (the key made on the device)\n") &&
	      !strstr(out, "\nPrivateKey"));
	req = json_loads(d.request, 0, NULL);
	CHECK(req &&
	      strcmp(json_string_value(json_object_get(req, "public_key")),
		     "gW3oaPhdYuG3A4TOpSNTJKToAsJEE/7YiWRMx5VBYHM=") == 0 &&
	      json_is_false(json_object_get(req, "exit")));
	json_decref(req);
	CHECK(config_value(out, "Endpoint", value, sizeof(value)) &&
	      strcmp(value, "192.168.1.2:41641") == 0);
	CHECK(config_value(out, "AllowedIPs", value, sizeof(value)) &&
	      strcmp(value, "100.64.0.0/10, fd7a:6d67:7465::/48, 192.168.77.0/24") == 0);
	CHECK(strcmp(err, "meshgate: warning: the endpoint 192.168.1.2:41641 is a LAN address: a "
			  "device outside the LAN needs --endpoint HOST:PORT (or "
			  "coordinator.endpoints) and a UDP port forward to it\n"
			  "meshgate: warning: the config has no PrivateKey line: put in the key "
			  "made on the device before importing it\n") == 0);

	snprintf(args, sizeof(args), "--socket %s device add phone", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(!strstr(out, "Endpoint"));
	CHECK(one_line(err, "warning: no endpoint is known for home"));
	CHECK(strstr(err, "--endpoint"));

	snprintf(args, sizeof(args),
		 "--socket %s device add phone --endpoint=vpn.example.org:51820", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(config_value(out, "Endpoint", value, sizeof(value)) &&
	      strcmp(value, "vpn.example.org:51820") == 0);
	CHECK(strcmp(err, "") == 0);
	fake_daemon_stop(&d);
}

/* --qr after the text; --qr-png a file of mode 0600 that decodes (zbarimg,
 * when installed) to exactly the text printed. */
static void test_cli_device_qr(void)
{
	struct fake_daemon d;
	char answer[2048], args[512], err[1024], dir[] = "/tmp/meshgate-qr-XXXXXX", png[64];
	char *out = malloc(65536), *text_end, *decoded;
	struct stat st;
	int lines = 0, width = -1;

	if (!CHECK(out != NULL) || !find_cli() || !CHECK(mkdtemp(dir) != NULL)) {
		free(out);
		return;
	}
	snprintf(png, sizeof(png), "%s/phone.png", dir);
	device_answer(answer, sizeof(answer), "\"203.0.113.2:41641\"", false, false);
	if (!fake_daemon_start(&d, (const char *[]){ answer }, 1))
		return;
	snprintf(args, sizeof(args), "--socket %s device add phone --qr --qr-png %s", d.path, png);
	CHECK_EQ_INT(run_cli(args, NULL, out, 65536, err, sizeof(err)), 0);
	fake_daemon_stop(&d);
	text_end = strstr(out, "PersistentKeepalive = 25\n");
	if (!CHECK(text_end != NULL))
		goto out;
	text_end += strlen("PersistentKeepalive = 25\n");
	/* A blank line, then lines of equal width (in characters) made of blocks. */
	CHECK(*text_end == '\n');
	for (char *p = text_end + 1; *p; lines++) {
		int n = 0;
		while (*p && *p != '\n') {
			n++;
			p += (unsigned char)*p >= 0x80 ? 3 : 1;
		}
		CHECK(width < 0 || n == width);
		width = n;
		p += *p == '\n';
	}
	/* width = size + 4 (quiet zone 2), lines = (width + 1) / 2. */
	CHECK(width >= 25 && lines == (width + 1) / 2);
	CHECK(stat(png, &st) == 0 && (st.st_mode & 0777) == 0600);
	if (system("command -v zbarimg >/dev/null 2>&1") != 0) {
		printf("skip: zbarimg not installed (zbar-tools)\n");
		goto out;
	}
	*text_end = '\0';
	snprintf(args, sizeof(args), "zbarimg --raw -q %s >%s/decoded 2>/dev/null", png, dir);
	CHECK(system(args) == 0);
	snprintf(args, sizeof(args), "%s/decoded", dir);
	decoded = test_read_file(args, NULL);
	/* zbarimg adds a newline of its own. */
	CHECK(decoded && strlen(decoded) == strlen(out) + 1 &&
	      strncmp(decoded, out, strlen(out)) == 0);
	free(decoded);
	unlink(args);
out:
	unlink(png);
	rmdir(dir);
	free(out);
}

/* A member: "pending", then device_status until "done". */
static void test_cli_device_pending(void)
{
	struct fake_daemon d;
	char answer[2048], args[512], out[4096], err[1024];
	const char *pending = "{\"ok\": true, \"result\": {\"state\": \"pending\", \"request\": "
			      "\"r7\"}}";

	if (!find_cli())
		return;
	device_answer(answer, sizeof(answer), "\"203.0.113.2:41641\"", false, false);
	if (!fake_daemon_start(&d, (const char *[]){ pending, pending, answer }, 3))
		return;
	snprintf(args, sizeof(args), "--socket %s device add laptop", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	fake_daemon_stop(&d);
	CHECK(strcmp(d.request, "{\"cmd\":\"device_status\",\"request\":\"r7\"}\n") == 0);
	CHECK(strstr(out, "\nPrivateKey = ") && strcmp(err, "") == 0);

	/* The coordinator refuses while pending: its reason, one line. */
	if (!fake_daemon_start(&d,
			       (const char *[]){ pending, "{\"ok\": false, \"error\": \"the name "
							  "laptop is taken by a node\"}" },
			       2))
		return;
	snprintf(args, sizeof(args), "--socket %s device add laptop", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 1);
	fake_daemon_stop(&d);
	CHECK(strcmp(err, "meshgate: the name laptop is taken by a node\n") == 0);
	CHECK(strcmp(out, "") == 0);
}

static void check_device_error(const char *args, const char *want)
{
	char out[1024], err[1024];

	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 1);
	if (!CHECK(one_line(err, want)))
		fprintf(stderr, "  for: meshgate %s\n", args);
	CHECK(strcmp(out, "") == 0);
}

/* Bad arguments: one line, exit 1, and nothing sent (no daemon listens). */
static void test_cli_device_errors(void)
{
	struct fake_daemon d;
	char args[512];

	if (!find_cli())
		return;
#define NOSOCK "--socket /nonexistent/x.sock "
	check_device_error(NOSOCK "device", "device: add, list or remove?");
	check_device_error(NOSOCK "device frob", "device: unknown subcommand 'frob'");
	check_device_error(NOSOCK "device add", "device add: which device?");
	check_device_error(NOSOCK "device add 10.1",
			   "device add: '10.1' is not a valid device name");
	check_device_error(NOSOCK "device add ph/one", "device add: 'ph/one' is not a valid");
	check_device_error(NOSOCK "device add phone laptop", "device add: one name, please");
	check_device_error(NOSOCK "device add phone --frob", "device add: unknown option '--frob'");
	check_device_error(NOSOCK "device add phone --endpoint",
			   "device add: --endpoint needs a value");
	check_device_error(NOSOCK "device add phone --endpoint host",
			   "device add: --endpoint 'host' is not HOST:PORT or [IPV6]:PORT");
	check_device_error(NOSOCK "device add phone --endpoint 203.0.113.2:0",
			   "device add: --endpoint '203.0.113.2:0' is not");
	check_device_error(NOSOCK "device add phone --endpoint [2001:db8::1]:65536",
			   "device add: --endpoint '[2001:db8::1]:65536' is not");
	check_device_error(NOSOCK "device add phone --endpoint 2001:db8::1:41641",
			   "device add: --endpoint '2001:db8::1:41641' is not");
	check_device_error(NOSOCK "device add phone --public-key abc",
			   "device add: --public-key 'abc' is not a WireGuard public key");
	check_device_error(NOSOCK "device add phone --public-key=" HUB_KEY "AA",
			   "device add: --public-key '" HUB_KEY "AA' is not");
	/* An unwritable PNG is refused before the device is added. */
	check_device_error(NOSOCK "device add phone --qr-png /nonexistent/dir/phone.png",
			   "device add: cannot write /nonexistent/dir/phone.png: ");
	check_device_error(NOSOCK "device add phone --qr-png /tmp",
			   "device add: cannot write /tmp: ");
	check_device_error(NOSOCK "device list --frob", "device list: unexpected argument");
	check_device_error(NOSOCK "device remove", "device remove: which device?");
	check_device_error(NOSOCK "device remove a b", "device remove: one name, please");
	check_device_error(NOSOCK "device add phone", "cannot reach meshgated at /nonexistent");
#undef NOSOCK
	/* The daemon's refusal, as it says it. */
	if (!fake_daemon_start(
		&d,
		(const char *[]){ "{\"ok\": false, \"error\": \"home offers no exit "
				  "node (exit_node.enabled = false)\"}",
				  "{\"ok\": true, \"result\": {\"state\": \"odd\"}}" },
		2))
		return;
	snprintf(args, sizeof(args), "--socket %s device add phone --exit", d.path);
	check_device_error(args, "home offers no exit node (exit_node.enabled = false)");
	check_device_error(args, "device add: unexpected answer from meshgated");
	fake_daemon_stop(&d);
}

static void test_cli_device_list_remove(void)
{
	static const char status[] =
	    "{\"ok\": true, \"result\": {\"self\": {\"name\": \"home\"}, \"peers\": [], "
	    "\"devices\": [{\"name\": \"phone\", \"addresses\": [\"100.64.0.7/32\", "
	    "\"fd7a:6d67:7465::7/128\"], \"hub\": \"home\", \"attached\": true, \"exit_node\": "
	    "true, \"last_handshake\": 0, \"rx_bytes\": 1536, \"tx_bytes\": 0, \"online\": false, "
	    "\"endpoint\": null}, {\"name\": \"tablet\", \"addresses\": [\"100.64.0.9/32\"], "
	    "\"hub\": \"laptop\", \"attached\": false, \"exit_node\": false, \"last_handshake\": "
	    "0, \"rx_bytes\": 0, \"tx_bytes\": 0, \"online\": false, \"endpoint\": null}]}}";
	struct fake_daemon d;
	char args[512], out[4096], err[1024];
	json_t *list;

	if (!find_cli())
		return;
	if (!fake_daemon_start(&d,
			       (const char *[]){ status, status, "{\"ok\": true, \"result\": {}}",
						 "{\"ok\": true, \"result\": {\"state\": \"done\", "
						 "\"removed\": \"phone\"}}" },
			       4))
		return;
	snprintf(args, sizeof(args), "--socket %s device list", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(out, "NAME                 ADDRESS          HUB                  EXIT  "
			  "HANDSHAKE  RX         TX\n"
			  "phone                100.64.0.7       home                 yes   never "
			  "     1.5 KiB    0 B\n"
			  "tablet               100.64.0.9       laptop               no    -     "
			  "     -          -\n") == 0);
	snprintf(args, sizeof(args), "--socket %s device list --json", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	list = json_loads(out, 0, NULL);
	CHECK(json_is_array(list) && json_array_size(list) == 2 &&
	      strcmp(json_string_value(json_object_get(json_array_get(list, 1), "name")),
		     "tablet") == 0);
	json_decref(list);
	/* A daemon without devices in its status: none. */
	snprintf(args, sizeof(args), "--socket %s device list", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(out, "no devices\n") == 0);
	snprintf(args, sizeof(args), "--socket %s device remove phone", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(d.request, "{\"cmd\":\"device_remove\",\"name\":\"phone\"}\n") == 0);
	CHECK(strncmp(out, "removed phone", 13) == 0);
	fake_daemon_stop(&d);
}

/* ---- meshgate log ---- */

/* Lines as the coordinator's entries say, in UTC here; --since and -n
 * become the request's since (Unix seconds) and limit; a member's refusal
 * is one line. */
static void test_cli_log(void)
{
	static const char entries[] =
	    "{\"ok\": true, \"result\": {\"entries\": [{\"id\": 1, \"time\": 1796321052, "
	    "\"actor\": \"root\", \"uid\": 0, \"action\": \"approve-route\", \"subject\": "
	    "\"home\", \"detail\": \"192.168.77.0/24\"}, {\"id\": 2, \"time\": 1796321060, "
	    "\"actor\": \"node:laptop\", \"uid\": null, \"action\": \"revoke-invite\", "
	    "\"subject\": \"invite 3\", \"detail\": \"\"}]}}";
	/* A first page that says more follow, and the last one. */
	static const char first[] =
	    "{\"ok\": true, \"result\": {\"more\": true, \"entries\": [{\"id\": 1, \"time\": "
	    "1796321052, \"actor\": \"root\", \"uid\": 0, \"action\": \"approve-route\", "
	    "\"subject\": \"home\", \"detail\": \"192.168.77.0/24\"}]}}";
	static const char last[] =
	    "{\"ok\": true, \"result\": {\"more\": false, \"entries\": [{\"id\": 2, \"time\": "
	    "1796321060, \"actor\": \"node:laptop\", \"uid\": null, \"action\": "
	    "\"revoke-invite\", \"subject\": \"invite 3\", \"detail\": \"\"}]}}";
	struct fake_daemon d;
	char args[512], out[4096], err[1024];
	json_t *req;

	if (!find_cli())
		return;
	setenv("TZ", "UTC0", 1);
	if (!fake_daemon_start(&d,
			       (const char *[]){ entries, first, last, entries,
						 "{\"ok\": false, \"error\": \"the audit log is "
						 "kept by the coordinator: run meshgate log "
						 "there\"}" },
			       5))
		return;
	snprintf(args, sizeof(args), "--socket %s log", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(out, "2026-12-03 18:04:12 root approve-route home 192.168.77.0/24\n"
			  "2026-12-03 18:04:20 node:laptop revoke-invite invite 3\n") == 0);
	CHECK(strcmp(d.request, "{\"cmd\":\"log\",\"since\":0,\"limit\":1000,\"after\":0}\n") == 0);
	/* Page after page: the next one asks after the last id it got. */
	snprintf(args, sizeof(args), "--socket %s log --since 2026-12-03T18:04:12Z -n 5 --json",
		 d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(d.request,
		     "{\"cmd\":\"log\",\"since\":1796321052,\"limit\":5,\"after\":1}\n") == 0);
	req = json_loads(out, 0, NULL);
	CHECK(json_array_size(json_object_get(req, "entries")) == 2);
	CHECK(json_integer_value(
		  json_object_get(json_array_get(json_object_get(req, "entries"), 1), "id")) == 2);
	json_decref(req);
	/* A relative time: that long before now. */
	snprintf(args, sizeof(args), "--socket %s log --since=2d", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	req = json_loads(d.request, 0, NULL);
	CHECK(llabs((long long)json_integer_value(json_object_get(req, "since")) -
		    ((long long)time(NULL) - 2 * 86400)) < 600);
	json_decref(req);
	snprintf(args, sizeof(args), "--socket %s log", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 1);
	CHECK(one_line(err, "the audit log is kept by the coordinator"));
	fake_daemon_stop(&d);
	CHECK_EQ_INT(run_cli("log --since yesterday", NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK(strstr(err, "meshgate: log: --since 'yesterday' is no time") == err);
	CHECK_EQ_INT(run_cli("log -n -3", NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK_EQ_INT(run_cli("log --help", NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "usage: meshgate log [--since TIME] [-n N] [--json]") == out);
}

/* ---- meshgate policy ---- */

/* Usage errors exit 2 before any request: no daemon is listening. */
static void test_cli_policy_usage(void)
{
	static const char *const bad[] = {
		"policy",
		"policy frob",
		"policy check",
		"policy check laptop",
		"policy check laptop switch tcp:22 extra",
		"policy check laptop switch tcp:",
		"policy check laptop switch tcp:0",
		"policy check laptop switch tcp:65536",
		"policy check laptop switch icmp:8",
		"policy check laptop switch sctp:22",
		"policy check laptop switch 22x",
		"policy show --frob",
	};
	char args[256], out[2048], err[512];

	if (!find_cli())
		return;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "--socket /nonexistent/x.sock %s", bad[i]);
		if (!CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 2) ||
		    !CHECK(strstr(err, "meshgate: policy") == err &&
			   strstr(err, "\nTry 'meshgate --help'.\n")))
			fprintf(stderr, "  %s: %s", bad[i], err);
	}
	CHECK_EQ_INT(run_cli("policy --help", NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "usage: meshgate policy check FROM TO [PROTO:PORT]") == out);
	CHECK_EQ_INT(run_cli("policy check -h", NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "usage: meshgate policy check FROM TO [PROTO:PORT]") == out);
	CHECK_EQ_INT(run_cli("--help", NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(out, "policy check FROM TO [PROTO:PORT] | show") != NULL);
	/* No daemon: 2, never a "denied" 1. */
	CHECK_EQ_INT(run_cli("--socket /nonexistent/x.sock policy check laptop switch", NULL, out,
			     sizeof(out), err, sizeof(err)),
		     2);
}

/* The request the CLI sends and the exit status of each answer, as test(1):
 * 0 allowed, 1 denied, 2 an error (an unknown name, a member). */
static void test_cli_policy_check(void)
{
	static const char allowed[] =
	    "{\"ok\": true, \"result\": {\"allowed\": true, \"rule\": 1, \"line\": 12, "
	    "\"reason\": \"allowed by rule 1 (line 12): laptop to switch tcp:22\", \"default\": "
	    "\"deny\", "
	    "\"revision\": 4}}";
	static const char denied[] =
	    "{\"ok\": true, \"result\": {\"allowed\": false, \"rule\": 0, \"line\": 0, "
	    "\"reason\": \"denied: no rule allows phone to switch tcp:80 (default deny)\", "
	    "\"default\": \"deny\", "
	    "\"revision\": 4}}";
	static const char unknown[] =
	    "{\"ok\": false, \"error\": \"no node or device named 'swtch'\"}";
	struct fake_daemon d;
	char args[256], out[1024], err[512];

	if (!find_cli() ||
	    !fake_daemon_start(&d, (const char *[]){ allowed, denied, unknown, allowed }, 4))
		return;
	snprintf(args, sizeof(args), "--socket %s policy check laptop switch tcp:22", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(d.request, "{\"cmd\":\"policy_check\",\"from\":\"laptop\",\"to\":"
				"\"switch\",\"proto\":\"tcp\",\"port\":22}\n") == 0);
	CHECK(strcmp(out, "allowed by rule 1 (line 12): laptop to switch tcp:22\n") == 0);
	snprintf(args, sizeof(args), "--socket %s policy check phone switch 80", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 1);
	CHECK(strcmp(d.request, "{\"cmd\":\"policy_check\",\"from\":\"phone\",\"to\":"
				"\"switch\",\"port\":80}\n") == 0);
	CHECK(strcmp(out, "denied: no rule allows phone to switch tcp:80 (default deny)\n") == 0);
	snprintf(args, sizeof(args), "--socket %s policy check phone swtch", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 2);
	CHECK(strcmp(err, "meshgate: no node or device named 'swtch'\n") == 0);
	snprintf(args, sizeof(args), "--socket %s policy check phone exit ICMP", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strstr(d.request, "\"proto\":\"icmp\"") && !strstr(d.request, "port"));
	fake_daemon_stop(&d);
}

/* policy show: the table of what this node enforces, --json as is. */
static void test_cli_policy_show(void)
{
	static const char filter[] =
	    "{\"ok\": true, \"result\": {\"present\": true, \"default\": \"deny\", "
	    "\"revision\": 4, \"entries\": [{\"rule\": 1, \"hook\": \"forward\", \"src\": "
	    "[\"100.64.0.3/32\", \"fd7a:6d67:7465::3/128\"], \"dst\": [\"192.168.77.0/24\"], "
	    "\"protocols\": [\"tcp\"], \"ports\": [\"22\", \"443\"]}, {\"rule\": 2, \"hook\": "
	    "\"exit\", \"src\": [\"0.0.0.0/0\", \"::/0\"], \"dst\": []}]}}";
	static const char none[] =
	    "{\"ok\": true, \"result\": {\"present\": false, \"default\": \"allow\", "
	    "\"revision\": 0, \"entries\": []}}";
	struct fake_daemon d;
	char args[256], out[2048], err[512];
	json_t *doc;

	if (!find_cli() || !fake_daemon_start(&d, (const char *[]){ filter, filter, none }, 3))
		return;
	snprintf(args, sizeof(args), "--socket %s policy show", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(d.request, "{\"cmd\":\"policy_show\"}\n") == 0);
	if (!CHECK(strcmp(out,
			  "default deny, revision 4, 2 entries enforced here\n"
			  "HOOK     RULE  PROTO      PORTS        SOURCE -> DESTINATION\n"
			  "forward  1     tcp        22,443       "
			  "100.64.0.3/32,fd7a:6d67:7465::3/128 -> 192.168.77.0/24\n"
			  "exit     2     *          *            0.0.0.0/0,::/0 -> internet\n") ==
		   0))
		fprintf(stderr, "  got:\n%s", out);
	snprintf(args, sizeof(args), "--socket %s policy show --json", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	doc = json_loads(out, 0, NULL);
	CHECK(doc && json_array_size(json_object_get(doc, "entries")) == 2);
	json_decref(doc);
	snprintf(args, sizeof(args), "--socket %s policy show", d.path);
	CHECK_EQ_INT(run_cli(args, NULL, out, sizeof(out), err, sizeof(err)), 0);
	CHECK(strcmp(out, "no access policy: this node lets the mesh through\n") == 0);
	fake_daemon_stop(&d);
}

int main(void)
{
	RUN(test_request_ok);
	RUN(test_request_errors);
	RUN(test_request_no_result);
	RUN(test_format_human);
	RUN(test_format_units);
	RUN(test_cli_keys);
	RUN(test_cli_usage);
	RUN(test_cli_status);
	RUN(test_cli_device_add);
	RUN(test_cli_device_endpoints);
	RUN(test_cli_device_qr);
	RUN(test_cli_device_pending);
	RUN(test_cli_device_errors);
	RUN(test_cli_device_list_remove);
	RUN(test_cli_log);
	RUN(test_cli_policy_usage);
	RUN(test_cli_policy_check);
	RUN(test_cli_policy_show);
	return test_summary();
}
