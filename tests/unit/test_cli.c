/*
 * The CLI's pieces: control_request() against an in-test daemon stand-in
 * (a thread answering canned documents on a Unix socket), the human status
 * format, and the built `meshgate` binary itself when it sits next to the
 * tests (genkey/pubkey known answers, exit codes, --socket placement).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control_client.h"
#include "status_format.h"
#include "testlib.h"

/* ---- a stand-in daemon ---- */

struct fake_daemon {
	char dir[64], path[108];
	int listen_fd;
	const char *answers[4]; /* written to the clients in turn */
	int clients;            /* connections to serve before the thread ends */
	char request[1024];     /* the last request read */
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

static void *fake_daemon_run(void *arg)
{
	struct fake_daemon *d = arg;

	for (int i = 0; i < d->clients; i++) {
		int fd = accept(d->listen_fd, NULL, NULL);
		if (fd < 0)
			break;
		serve_one(d, fd, d->answers[i]);
		close(fd);
	}
	return NULL;
}

/* Serves clients connections (at most 4), answering answers[0], [1], ... */
static bool fake_daemon_start(struct fake_daemon *d, const char *const *answers, int clients)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/meshgate-cli-XXXXXX");
	if (!CHECK(mkdtemp(d->dir) != NULL))
		return false;
	snprintf(d->path, sizeof(d->path), "%s/ctl.sock", d->dir);
	strcpy(sun.sun_path, d->path);
	for (int i = 0; i < clients && i < 4; i++)
		d->answers[i] = answers[i];
	d->clients = clients < 4 ? clients : 4;
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!CHECK(d->listen_fd >= 0) ||
	    !CHECK(bind(d->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) ||
	    !CHECK(listen(d->listen_fd, 4) == 0))
		return false;
	return CHECK(pthread_create(&d->thread, NULL, fake_daemon_run, d) == 0);
}

static void fake_daemon_stop(struct fake_daemon *d)
{
	pthread_join(d->thread, NULL);
	close(d->listen_fd);
	unlink(d->path);
	rmdir(d->dir);
}

static const char status_doc[] =
    "{\"self\": {\"name\": \"home\", \"public_key\": "
    "\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\", \"addresses\": [\"100.64.0.1/10\", "
    "\"fd7a:6d67:7465::1/48\"], \"listen_port\": 41641, \"coordinator\": true, "
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
    "coordinator  offers exit node  routes: 192.168.1.0/24\n"
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

static char *format(const char *doc_text, time_t now)
{
	json_error_t jerr;
	json_t *doc = json_loads(doc_text, 0, &jerr);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (!CHECK(doc != NULL && out != NULL))
		return strdup("");
	status_format_human(out, doc, now);
	fclose(out);
	json_decref(doc);
	return buf;
}

static void check_format(const char *doc_text, time_t now, const char *want)
{
	char *got = format(doc_text, now);

	if (!CHECK(strcmp(got, want) == 0))
		fprintf(stderr, "  got:\n%s  want:\n%s", got, want);
	free(got);
}

static void test_format_human(void)
{
	check_format(status_doc, 1000, status_human);
	check_format("{}", 0, "- (this node)  -  key -\nno peers\n");
	/* Wrong types print as "-" or zero, never crash. */
	check_format("{\"self\": [], \"peers\": [1, {\"name\": 5, \"addresses\": \"x\", "
		     "\"rx_bytes\": -5, \"online\": true}]}",
		     0,
		     "- (this node)  -  key -\n"
		     "-  -  -  never  rx 0 B  tx 0 B  offline\n"
		     "-  -  -  never  rx 0 B  tx 0 B\n");
	check_format("{\"self\": {\"name\": \"n\", \"exit_node_in_use\": \"home\"}, \"peers\": []}",
		     0, "n (this node)  -  key -  exit node: home\nno peers\n");
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

/* Runs "meshgate ARGS" through the shell; stdout/stderr into out/err. */
static int run_cli(const char *args, const char *input, char *out, size_t outlen, char *err,
		   size_t errlen)
{
	char cmd[PATH_MAX * 2], out_path[64], err_path[64];
	char *text;
	int status;

	snprintf(out_path, sizeof(out_path), "/tmp/meshgate-cli-%d.out", (int)getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/meshgate-cli-%d.err", (int)getpid());
	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | %s %s >%s 2>%s", input ? input : "",
		 cli_path, args, out_path, err_path);
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
	return test_summary();
}
