/*
 * meshgated: the meshgate daemon. Parses the command line, loads the
 * configuration, brings the node up and runs the event loop until SIGTERM
 * or SIGINT; SIGHUP reloads the configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "cleanup.h"
#include "confcheck.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "node.h"
#include "node_mesh.h"
#include "preflight.h"
#include "sdnotify.h"
#include "frontend.h"

struct options {
	const char *config_path; /* NULL: the default path, if it exists */
	bool foreground;
	bool check;
	bool cleanup;
	bool preflight;
	bool verbose;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: meshgated [-c FILE] [-f] [-v]\n"
		"       meshgated --check [-c FILE]\n"
		"       meshgated --cleanup [-c FILE]\n"
		"       meshgated --preflight [-c FILE]\n"
		"\n"
		"The meshgate daemon: a WireGuard-compatible mesh VPN node.\n"
		"\n"
		"  -c, --config FILE  configuration file (default " CONFIG_DEFAULT_PATH ";\n"
		"                     without one, built-in defaults are used)\n"
		"  -f, --foreground   stay in the foreground and log to stderr\n"
		"  -v, --verbose      log debug messages too\n"
		"      --check        validate the configuration and exit (0 = valid): every\n"
		"                     check start-up makes without the kernel (the role,\n"
		"                     from the file and state_dir/role.json, the route\n"
		"                     plan, the invite code, key files, state_dir); it\n"
		"                     prints the role it checked and why\n"
		"      --cleanup      remove everything meshgate may have left in the\n"
		"                     kernel and the file system, put /etc/resolv.conf\n"
		"                     back (dns.manage_resolv_conf), then exit\n"
		"      --preflight    check that this host can run the node (TUN,\n"
		"                     forwarding, nftables, MTU, clock) and exit; it\n"
		"                     needs no daemon and changes nothing (meshgate\n"
		"                     status has a running daemon's checks)\n"
		"  -h, --help         show this help\n"
		"      --version      show the version\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop and clean up; SIGHUP reloads the configuration.\n");
}

/* 0 to go on, or an exit status + 1 for main to return. */
static int parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_CHECK = 256, OPT_CLEANUP, OPT_PREFLIGHT, OPT_VERSION };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "cleanup", no_argument, NULL, OPT_CLEANUP },
		{ "preflight", no_argument, NULL, OPT_PREFLIGHT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			opt->config_path = optarg;
			break;
		case 'f':
			opt->foreground = true;
			break;
		case 'v':
			opt->verbose = true;
			break;
		case OPT_CHECK:
			opt->check = true;
			break;
		case OPT_CLEANUP:
			opt->cleanup = true;
			break;
		case OPT_PREFLIGHT:
			opt->preflight = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("meshgated %s\n", MESHGATE_VERSION);
			return 1;
		default:
			usage(stderr);
			return 3;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgated: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 3;
	}
	return 0;
}

/*
 * Loads the configuration: the named file, else the default file if there is
 * one, else the built-in defaults. *path_used is the file read, or NULL.
 */
static int load_config(const struct options *opt, struct mg_config *cfg, const char **path_used)
{
	const char *path = opt->config_path ? opt->config_path : CONFIG_DEFAULT_PATH;
	char err[8192];
	int ret;

	if (!opt->config_path && access(path, F_OK) != 0) {
		*path_used = NULL;
		if (config_defaults(cfg) < 0) {
			fprintf(stderr, "meshgated: out of memory\n");
			return -ENOMEM;
		}
		return 0;
	}
	*path_used = path;
	err[0] = '\0';
	ret = config_load(path, cfg, err, sizeof(err));
	if (ret < 0 && err[0])
		fprintf(stderr, "%s\n", err);
	else if (ret < 0)
		fprintf(stderr, "meshgated: %s: %s\n", path, strerror(-ret));
	return ret;
}

/*
 * Detaches from the terminal. The parent waits until the child reports
 * "ready" or an error through a pipe, so start-up errors reach the user and
 * the exit status tells whether the daemon came up.
 */
static int daemonize(int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char msg[4096];
	ssize_t n, total = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		while ((n = read(fds[0], msg + total, sizeof(msg) - 1 - (size_t)total)) > 0)
			total += n;
		msg[total] = '\0';
		if (strncmp(msg, "ready", 5) == 0)
			_exit(0);
		fprintf(stderr, "%s", total ? msg : "meshgated: failed to start\n");
		_exit(1);
	}
	close(fds[0]);
	setsid();
	if (chdir("/") < 0)
		return -errno;
	*ready_fd = fds[1];
	return 0;
}

static void report_ready(int *ready_fd, const char *error)
{
	if (*ready_fd < 0)
		return;
	if (error) {
		if (write(*ready_fd, error, strlen(error)) < 0 || write(*ready_fd, "\n", 1) < 0)
			(void)0;
	} else {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (write(*ready_fd, "ready", 5) < 0)
			(void)0;
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	close(*ready_fd);
	*ready_fd = -1;
}

struct daemon {
	struct loop *loop;
	struct node node;
	struct frontend frontend; /* control socket and status page */
};

static void on_signal(void *ctx, int signo)
{
	struct daemon *d = ctx;

	if (signo == SIGHUP) {
		log_info("SIGHUP: reloading the configuration");
		sdnotify_reloading();
		node_reload(&d->node);
		dataplane_flush(&d->node.dp);
		sdnotify_send("READY=1");
		return;
	}
	log_info("%s: stopping", strsignal(signo));
	sdnotify_send("STOPPING=1");
	loop_stop(d->loop);
}

static int run(const struct options *opt, struct mg_config *cfg, const char *path)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct daemon d = { 0 };
	char err[4096] = "";
	int ready_fd = -1, ret;

	log_init(opt->foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG,
		 opt->verbose ? LOG_DEBUG : LOG_INFO);
	if (!opt->foreground && (ret = daemonize(&ready_fd)) < 0) {
		fprintf(stderr, "meshgated: cannot detach: %s\n", strerror(-ret));
		config_free(cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	d.loop = loop_new();
	if (!d.loop || loop_watch_signals(d.loop, signals, 3, on_signal, &d) < 0) {
		snprintf(err, sizeof(err), "meshgated: cannot set up the event loop: %s",
			 strerror(errno));
		config_free(cfg);
		goto out;
	}
	if (!path)
		log_info("no configuration file: running on built-in defaults");
	ret = node_start(&d.node, d.loop, cfg, path, err, sizeof(err));
	if (ret == 0 && ((ret = node_mesh_start(&d.node, err, sizeof(err))) < 0 ||
			 (ret = frontend_start(&d.frontend, &d.node, err, sizeof(err))) < 0))
		node_stop(&d.node);
	if (ret < 0) {
		log_err("%s", err);
		goto out;
	}
	err[0] = '\0';
	report_ready(&ready_fd, NULL);
	/* Under systemd (Type=notify): the TUN, routes and control socket are up. */
	sdnotify_send("READY=1");
	ret = loop_run(d.loop);
	frontend_stop(&d.frontend);
	node_stop(&d.node);
	loop_free(d.loop);
	return ret < 0 ? 1 : 0;
out:
	report_ready(&ready_fd, err);
	loop_free(d.loop);
	return 1;
}

/* `meshgated --preflight`: every check, its fix when it failed; 1 if any did. */
static int preflight_print(FILE *out, const struct mg_config *cfg)
{
	static const char *const marks[] = { "FAIL", "ok", "?" };
	struct preflight_result r[PREFLIGHT_CHECKS];
	struct preflight_facts f;
	char unchecked[1024];
	int failed = 0;

	preflight_gather_host(cfg, &f);
	preflight_evaluate(&f, r);
	for (int i = 0; i < PREFLIGHT_CHECKS; i++) {
		fprintf(out, "%-4s %s: %s\n", marks[r[i].state], r[i].check, r[i].message);
		for (const char *p = r[i].fix; *p;) {
			int n = (int)strcspn(p, "\n");
			fprintf(out, "     fix: %.*s\n", n, p);
			p += n + (p[n] == '\n');
		}
		failed |= r[i].state == PREFLIGHT_FAIL;
	}
	preflight_not_checked(&f, unchecked, sizeof(unchecked));
	for (const char *p = unchecked; *p;) {
		int n = (int)strcspn(p, "\n");
		fprintf(out, "-    %.*s\n", n, p);
		p += n + (p[n] == '\n');
	}
	return failed;
}

/* `meshgated --check` past the parser: errors and warnings on stderr, the
 * verdict on stdout; 1 if start-up would refuse the configuration. */
static int check_print(const struct mg_config *cfg, const char *path)
{
	static char err[8192], warn[4096];
	struct confcheck_out out = {
		.err = err, .errlen = sizeof(err), .warn = warn, .warnlen = sizeof(warn)
	};
	int ret = confcheck_run(cfg, &out);

	printf("checked as: %s\n", out.role);
	if (warn[0])
		fprintf(stderr, "%s\n", warn);
	if (ret < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: configuration is valid\n", path ? path : "built-in defaults");
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct mg_config cfg = { 0 };
	const char *path = NULL;
	int ret;

	/* The heap grows by what is asked, not 128 kB more, and glibc's mmap
	 * threshold stays at 128 kB instead of rising to the largest block freed:
	 * blocks of start-up and reloads that size go back to the kernel when
	 * freed instead of staying resident in the heap. The data plane allocates
	 * nothing after start, so this costs no system calls there. */
	mallopt(M_TOP_PAD, 0);
	/* Before any other libsodium call and before threads: it picks the
	 * SIMD ChaCha20 and Poly1305 for this CPU, without it the portable
	 * code runs (under half the speed here). */
	if (sodium_init() < 0) {
		fprintf(stderr, "meshgated: libsodium cannot start\n");
		return 1;
	}
	ret = parse_options(argc, argv, &opt);

	if (ret)
		return ret - 1;
	if (load_config(&opt, &cfg, &path) < 0) {
		config_free(&cfg);
		return 1;
	}
	if (opt.check) {
		ret = check_print(&cfg, path);
		config_free(&cfg);
		return ret;
	}
	if (opt.preflight) {
		ret = preflight_print(stdout, &cfg);
		config_free(&cfg);
		return ret;
	}
	if (opt.cleanup) {
		ret = cleanup_run(&cfg);
		config_free(&cfg);
		return ret < 0 ? 1 : 0;
	}
	return run(&opt, &cfg, path);
}
