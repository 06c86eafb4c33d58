/*
 * The coordinator's registry in SQLite; see registry.h.
 *
 * Layout (schema version 3; meta holds "schema_version", the netmap
 * version "netmap_version", and the access policy's "policy_digest" and
 * "policy_revision" once there is one):
 *   nodes   (id, name, hostname, public_key, addr4, addr6, created_at,
 *            last_seen, endpoints)  addresses as text ("100.64.0.2"),
 *            endpoints as a JSON array of "ip:port"
 *   routes  (node_id -> nodes ON DELETE CASCADE, prefix, approved)
 *   invites (id, secret_hash, created_at, expires_at, reusable, used_at,
 *            used_by -> nodes ON DELETE SET NULL)
 *   devices (id, name, public_key, hub_id -> nodes ON DELETE CASCADE,
 *            addr4, addr6, exit_node, created_at)  (version 2)
 *   revoked_keys (public_key, name, revoked_at): filled by the trigger
 *            devices_revoke whenever a device row goes, also when its hub
 *            does (version 2)
 *   audit   (id, time, actor, uid, action, subject, detail): the audit
 *            log, ids in the order of the writes; uid NULL for an actor
 *            that is no local user (version 3)
 * Names and addresses are unique within a table by its constraints, and
 * across nodes and devices by the code that inserts them (the allocator
 * and the name checks read both tables).
 * Migrations: migrations[v] takes the schema from version v to v + 1; open
 * applies the missing ones in one transaction.
 *
 * Each API call is a transaction of its own (BEGIN IMMEDIATE ... COMMIT), or
 * a savepoint inside the caller's registry_begin().
 */
#include "mesh/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

#define DAMAGED "is damaged: restore a backup or remove it to start a new mesh"

enum { BUSY_TIMEOUT_MS = 5000 };

static const char *const migrations[REGISTRY_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE nodes ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL COLLATE NOCASE UNIQUE,"
	" hostname TEXT NOT NULL,"
	" public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),"
	" addr4 TEXT NOT NULL UNIQUE,"
	" addr6 TEXT NOT NULL UNIQUE,"
	" created_at INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL DEFAULT 0,"
	" endpoints TEXT NOT NULL DEFAULT '[]');"
	"CREATE TABLE routes ("
	" node_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	" prefix TEXT NOT NULL,"
	" approved INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),"
	" PRIMARY KEY (node_id, prefix)) WITHOUT ROWID;"
	"CREATE TABLE invites ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL DEFAULT 0,"
	" reusable INTEGER NOT NULL DEFAULT 0,"
	" used_at INTEGER,"
	" used_by INTEGER REFERENCES nodes(id) ON DELETE SET NULL);"
	"CREATE INDEX invites_used_by ON invites(used_by);"
	"INSERT INTO meta(key, value) VALUES ('netmap_version', 0);",
	/* 1 -> 2: stock WireGuard devices */
	"CREATE TABLE devices ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL COLLATE NOCASE UNIQUE,"
	" public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),"
	" hub_id INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,"
	" addr4 TEXT NOT NULL UNIQUE,"
	" addr6 TEXT NOT NULL UNIQUE,"
	" exit_node INTEGER NOT NULL DEFAULT 0 CHECK (exit_node IN (0, 1)),"
	" created_at INTEGER NOT NULL);"
	"CREATE INDEX devices_hub ON devices(hub_id);"
	"CREATE TABLE revoked_keys ("
	" public_key BLOB PRIMARY KEY CHECK (length(public_key) = 32),"
	" name TEXT NOT NULL,"
	" revoked_at INTEGER NOT NULL) WITHOUT ROWID;"
	/* A cascade from the hub's row fires it too. */
	"CREATE TRIGGER devices_revoke AFTER DELETE ON devices BEGIN"
	" INSERT OR REPLACE INTO revoked_keys (public_key, name, revoked_at)"
	" VALUES (old.public_key, old.name, CAST(strftime('%s', 'now') AS INTEGER));"
	" END;",
	/* 2 -> 3: the audit log */
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" uid INTEGER,"
	" action TEXT NOT NULL,"
	" subject TEXT NOT NULL DEFAULT '',"
	" detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX audit_time ON audit(time);",
};

#define DEVICE_COLUMNS                                                                             \
	"SELECT id, name, public_key, hub_id, addr4, addr6, exit_node, created_at FROM devices "

#define NODE_COLUMNS                                                                               \
	"SELECT id, name, hostname, public_key, addr4, addr6, created_at, last_seen, endpoints "   \
	"FROM nodes "

enum stmt {
	NODE_BY_KEY,
	NODE_BY_NAME,
	NODE_BY_ID,
	NODES_ALL,
	NODE_NAMES,
	NODE_ADDRS4,
	NODE_ADDRS6,
	NODE_INSERT,
	NODE_SET_ADDR4,
	NODE_SET_ADDR6,
	NODE_DELETE,
	NODE_SEEN,
	NODE_SEEN_ENDPOINTS,
	NODE_EXISTS,
	ROUTES_OF_NODE,
	ROUTE_INSERT,
	ROUTE_DELETE,
	ROUTE_APPROVE,
	ROUTE_OWN,
	ROUTES_ALL,
	ROUTES_APPROVED_OTHERS,
	INVITE_INSERT,
	INVITE_GET,
	INVITE_USE,
	INVITE_EXISTS,
	INVITES_PRUNE,
	INVITES_ALL,
	INVITE_DELETE,
	VERSION_BUMP,
	VERSION_GET,
	DEVICE_BY_NAME,
	DEVICE_BY_KEY,
	DEVICES_ALL,
	DEVICE_INSERT,
	DEVICE_DELETE,
	REVOKED_BY_KEY,
	AUDIT_INSERT,
	AUDIT_TRIM,
	AUDIT_LIST,
	AUDIT_PAGE,
	POLICY_GET,
	POLICY_SET,
	STMT_COUNT
};

static const char *const stmt_sql[STMT_COUNT] = {
	[NODE_BY_KEY] = NODE_COLUMNS "WHERE public_key = ?1",
	[NODE_BY_NAME] = NODE_COLUMNS "WHERE name = ?1",
	[NODE_BY_ID] = NODE_COLUMNS "WHERE id = ?1",
	[NODES_ALL] = NODE_COLUMNS "ORDER BY id",
	[NODE_NAMES] = "SELECT name FROM nodes UNION ALL SELECT name FROM devices",
	[NODE_ADDRS4] = "SELECT addr4 FROM nodes UNION ALL SELECT addr4 FROM devices",
	[NODE_ADDRS6] = "SELECT addr6 FROM nodes UNION ALL SELECT addr6 FROM devices",
	[NODE_INSERT] = "INSERT INTO nodes (name, hostname, public_key, addr4, addr6, created_at) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[NODE_SET_ADDR4] = "UPDATE nodes SET addr4 = ?2 WHERE id = ?1",
	[NODE_SET_ADDR6] = "UPDATE nodes SET addr6 = ?2 WHERE id = ?1",
	[NODE_DELETE] = "DELETE FROM nodes WHERE id = ?1",
	[NODE_SEEN] = "UPDATE nodes SET last_seen = ?2 WHERE id = ?1",
	[NODE_SEEN_ENDPOINTS] = "UPDATE nodes SET last_seen = ?2, endpoints = ?3 WHERE id = ?1",
	[NODE_EXISTS] = "SELECT 1 FROM nodes WHERE id = ?1",
	[ROUTES_OF_NODE] = "SELECT prefix FROM routes WHERE node_id = ?1",
	[ROUTE_INSERT] = "INSERT OR IGNORE INTO routes (node_id, prefix, approved) "
			 "VALUES (?1, ?2, ?3)",
	[ROUTE_DELETE] = "DELETE FROM routes WHERE node_id = ?1 AND prefix = ?2",
	[ROUTE_APPROVE] = "UPDATE routes SET approved = ?3 WHERE node_id = ?1 AND prefix = ?2",
	[ROUTE_OWN] = "INSERT INTO routes (node_id, prefix, approved) VALUES (?1, ?2, 1) "
		      "ON CONFLICT (node_id, prefix) DO UPDATE SET approved = 1 WHERE approved = 0",
	[ROUTES_ALL] = "SELECT node_id, prefix, approved FROM routes",
	[ROUTES_APPROVED_OTHERS] = "SELECT node_id, prefix, approved FROM routes "
				   "WHERE node_id != ?1 AND approved = 1",
	[INVITE_INSERT] = "INSERT INTO invites (secret_hash, created_at, expires_at, reusable) "
			  "VALUES (?1, ?2, ?3, ?4)",
	[INVITE_GET] = "SELECT secret_hash, expires_at, reusable, used_at FROM invites "
		       "WHERE id = ?1",
	[INVITE_USE] = "UPDATE invites SET used_at = ?2, used_by = ?3 "
		       "WHERE id = ?1 AND (reusable OR used_at IS NULL)",
	[INVITE_EXISTS] = "SELECT 1 FROM invites WHERE id = ?1",
	/* A used single-use invite outlives its expiry by the grace ?2 (its
	 * joiner may ask again), and is gone after it. */
	[INVITES_PRUNE] = "DELETE FROM invites WHERE "
			  "(NOT reusable AND used_at IS NOT NULL AND used_at + ?2 <= ?1) OR "
			  "(expires_at != 0 AND expires_at <= ?1 AND "
			  " (reusable OR used_at IS NULL OR used_at + ?2 <= ?1))",
	[INVITES_ALL] = "SELECT id, created_at, expires_at, reusable, used_at, used_by "
			"FROM invites ORDER BY id",
	[INVITE_DELETE] = "DELETE FROM invites WHERE id = ?1",
	[VERSION_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = 'netmap_version'",
	[VERSION_GET] = "SELECT value FROM meta WHERE key = 'netmap_version'",
	[DEVICE_BY_NAME] = DEVICE_COLUMNS "WHERE name = ?1",
	[DEVICE_BY_KEY] = DEVICE_COLUMNS "WHERE public_key = ?1",
	[DEVICES_ALL] = DEVICE_COLUMNS "ORDER BY id",
	[DEVICE_INSERT] = "INSERT INTO devices (name, public_key, hub_id, addr4, addr6, exit_node, "
			  "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[DEVICE_DELETE] = "DELETE FROM devices WHERE id = ?1",
	[REVOKED_BY_KEY] = "SELECT name FROM revoked_keys WHERE public_key = ?1",
	[AUDIT_INSERT] = "INSERT INTO audit (time, actor, uid, action, subject, detail) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* Ids grow by one per row (AUTOINCREMENT, rows go only from the
	 * oldest end): this keeps the newest ?1. */
	[AUDIT_TRIM] = "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?1",
	[AUDIT_LIST] = "SELECT id, time, actor, uid, action, subject, detail FROM audit "
		       "WHERE time >= ?1 ORDER BY id DESC LIMIT ?2",
	[POLICY_GET] = "SELECT d.value, r.value FROM meta d, meta r "
		       "WHERE d.key = 'policy_digest' AND r.key = 'policy_revision'",
	[POLICY_SET] = "INSERT OR REPLACE INTO meta(key, value) "
		       "VALUES ('policy_digest', ?1), ('policy_revision', ?2)",
	[AUDIT_PAGE] = "SELECT id, time, actor, uid, action, subject, detail FROM "
		       "(SELECT id, time, actor, uid, action, subject, detail FROM audit "
		       "WHERE time >= ?1 ORDER BY id DESC LIMIT ?2) "
		       "WHERE id > ?3 ORDER BY id ASC LIMIT ?4",
};

struct registry {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[STMT_COUNT];
	bool in_transaction; /* inside registry_begin() */
};

/* ---- errors ---- */

static int sql_errno(int rc)
{
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return -ENOENT;
	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EUCLEAN;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* Logs a failed SQLite call and returns its errno. */
static int sql_fail(struct registry *reg, int rc, const char *what)
{
	int err = sql_errno(rc);

	if (err == -EUCLEAN)
		log_err("%s " DAMAGED " (%s)", reg->path, sqlite3_errmsg(reg->db));
	else
		log_err("registry: %s: %s", what, sqlite3_errmsg(reg->db));
	return err;
}

/* Logs data that SQLite stored but that does not make sense here. */
static int bad_data(struct registry *reg, const char *what)
{
	log_err("%s " DAMAGED " (%s)", reg->path, what);
	return -EUCLEAN;
}

static int exec(struct registry *reg, const char *sql)
{
	int rc = sqlite3_exec(reg->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_fail(reg, rc, sql);
}

/* ---- statements and transactions ---- */

/* A prepared statement, reset and with no bindings. */
static sqlite3_stmt *stmt(struct registry *reg, enum stmt which)
{
	sqlite3_stmt *st = reg->stmt[which];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no rows. */
static int step_done(struct registry *reg, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(reg, rc, sqlite3_sql(st));
}

/* Runs a statement that returns at most one row: 1 with a row (reset it),
 * 0 without. */
static int step_row(struct registry *reg, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(reg, rc, sqlite3_sql(st));
}

static int op_begin(struct registry *reg)
{
	return exec(reg, reg->in_transaction ? "SAVEPOINT op" : "BEGIN IMMEDIATE");
}

/* Commits the change when ret is not an error, undoes it otherwise; returns
 * ret or the commit's error. */
static int op_end(struct registry *reg, int ret)
{
	if (ret >= 0) {
		int err = exec(reg, reg->in_transaction ? "RELEASE op" : "COMMIT");

		if (err == 0)
			return ret;
		ret = err;
	}
	if (reg->in_transaction)
		sqlite3_exec(reg->db, "ROLLBACK TO op; RELEASE op", NULL, NULL, NULL);
	else if (!sqlite3_get_autocommit(reg->db))
		sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int registry_begin(struct registry *reg)
{
	int ret;

	if (reg->in_transaction)
		return -EBUSY;
	ret = exec(reg, "BEGIN IMMEDIATE");
	if (ret == 0)
		reg->in_transaction = true;
	return ret;
}

int registry_commit(struct registry *reg)
{
	int ret;

	if (!reg->in_transaction)
		return -EINVAL;
	ret = exec(reg, "COMMIT");
	reg->in_transaction = false;
	if (ret < 0 && !sqlite3_get_autocommit(reg->db))
		sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

void registry_rollback(struct registry *reg)
{
	if (!reg->in_transaction)
		return;
	reg->in_transaction = false;
	if (!sqlite3_get_autocommit(reg->db))
		sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- opening ---- */

static int open_fail(struct registry *reg, int rc, char *errbuf, size_t errlen)
{
	int err = sql_errno(rc);

	if (err == -EUCLEAN)
		snprintf(errbuf, errlen, "%s " DAMAGED, reg->path);
	else
		snprintf(errbuf, errlen, "%s: %s", reg->path,
			 reg->db ? sqlite3_errmsg(reg->db) : sqlite3_errstr(rc));
	return err;
}

/* Creates the file with mode 0600 so that SQLite (and its -wal and -shm
 * files, which copy the mode) never makes it readable by others. */
static int create_file(const char *path, char *errbuf, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		int err = -errno;

		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return err;
	}
	close(fd);
	return 0;
}

/* One-row pragma whose text result must be want. */
static int pragma_expect(struct registry *reg, const char *sql, const char *want, int *rc_out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL);
	bool ok = false;

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *got = (const char *)sqlite3_column_text(st, 0);

			ok = got && strcasecmp(got, want) == 0;
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	*rc_out = rc == SQLITE_OK && !ok ? SQLITE_CORRUPT : rc;
	return *rc_out == SQLITE_OK ? 0 : -1;
}

static int configure(struct registry *reg)
{
	int rc;

	sqlite3_extended_result_codes(reg->db, 1);
	rc = sqlite3_busy_timeout(reg->db, BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK && pragma_expect(reg, "PRAGMA journal_mode = WAL", "wal", &rc) < 0) {
		if (rc == SQLITE_CORRUPT) /* a file system without shared memory */
			rc = SQLITE_CANTOPEN;
		return rc;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(reg->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
				  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		pragma_expect(reg, "PRAGMA quick_check", "ok", &rc);
	return rc;
}

static int64_t schema_version(struct registry *reg, int *rc)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	*rc = sqlite3_prepare_v2(reg->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
				 &st, NULL);
	if (*rc != SQLITE_OK)
		return -1;
	*rc = sqlite3_step(st);
	if (*rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	*rc = *rc == SQLITE_ROW || *rc == SQLITE_DONE ? SQLITE_OK : *rc;
	sqlite3_finalize(st);
	return v;
}

static int migrate(struct registry *reg, char *errbuf, size_t errlen)
{
	char sql[96];
	int64_t v;
	int err, rc = sqlite3_exec(reg->db,
				   "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS meta "
				   "(key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID",
				   NULL, NULL, NULL);

	v = rc == SQLITE_OK ? schema_version(reg, &rc) : 0;
	if (rc == SQLITE_OK && (v < 0 || v > REGISTRY_SCHEMA_VERSION)) {
		sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(errbuf, errlen, "%s: schema version %lld is not one this meshgate knows",
			 reg->path, (long long)v);
		return -EPROTO;
	}
	for (; rc == SQLITE_OK && v < REGISTRY_SCHEMA_VERSION; v++)
		rc = sqlite3_exec(reg->db, migrations[v], NULL, NULL, NULL);
	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO meta VALUES ('schema_version', %d)",
		 REGISTRY_SCHEMA_VERSION);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(reg->db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(reg->db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	err = open_fail(reg, rc, errbuf, errlen);
	sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static int prepare_all(struct registry *reg, char *errbuf, size_t errlen)
{
	for (int i = 0; i < STMT_COUNT; i++) {
		int rc = sqlite3_prepare_v3(reg->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &reg->stmt[i], NULL);

		if (rc != SQLITE_OK)
			return open_fail(reg, rc, errbuf, errlen);
	}
	return 0;
}

int registry_open(struct registry **out, const char *path, char *errbuf, size_t errlen)
{
	struct registry *reg = calloc(1, sizeof(*reg));
	int ret = -ENOMEM, rc;

	*out = NULL;
	if (!reg || !(reg->path = strdup(path))) {
		snprintf(errbuf, errlen, "%s: out of memory", path);
		goto err;
	}
	ret = create_file(path, errbuf, errlen);
	if (ret < 0)
		goto err;
	rc = sqlite3_open_v2(path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK)
		rc = configure(reg);
	if (rc != SQLITE_OK) {
		ret = open_fail(reg, rc, errbuf, errlen);
		goto err;
	}
	ret = migrate(reg, errbuf, errlen);
	if (ret == 0)
		ret = prepare_all(reg, errbuf, errlen);
	if (ret < 0)
		goto err;
	*out = reg;
	return 0;
err:
	registry_close(reg);
	return ret;
}

void registry_close(struct registry *reg)
{
	if (!reg)
		return;
	registry_rollback(reg);
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(reg->stmt[i]);
	sqlite3_close(reg->db);
	free(reg->path);
	free(reg);
}

/* Makes room in *array (of count elements of size bytes, room for *cap)
 * for one more. */
static int grow(void *array, size_t *cap, size_t count, size_t size)
{
	void **p = array, *grown;
	size_t n = *cap ? 2 * *cap : 16;

	if (count < *cap)
		return 0;
	grown = reallocarray(*p, n, size);
	if (!grown)
		return -ENOMEM;
	*p = grown;
	*cap = n;
	return 0;
}

/* Reads one row of a statement into out, an element of a listing. */
typedef int row_reader(struct registry *reg, sqlite3_stmt *st, void *out);

/* Every row of statement which, each read by row into an element of size
 * bytes: *out is a new array of *n elements. On failure nothing is returned
 * and the rows read so far go to release (free() when NULL). what says what
 * was being listed. */
static int list_rows(struct registry *reg, enum stmt which, size_t size, row_reader *row,
		     void (*release)(void *list, size_t n), const char *what, void **out, size_t *n)
{
	sqlite3_stmt *st = stmt(reg, which);
	void *list = NULL;
	size_t count = 0, cap = 0;
	int ret = 0, rc = SQLITE_DONE;

	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = grow(&list, &cap, count, size);
		if (ret == 0)
			ret = row(reg, st, (char *)list + count * size);
		count += ret == 0;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(reg, rc, what);
	sqlite3_reset(st);
	if (ret < 0) {
		if (release)
			release(list, count);
		else
			free(list);
		return ret;
	}
	*out = list;
	*n = count;
	return 0;
}

/* Runs a bound statement for one row, read by row into out: 0, or -ENOENT
 * when there is none. */
static int fetch_row(struct registry *reg, sqlite3_stmt *st, row_reader *row, void *out)
{
	int ret = step_row(reg, st);

	if (ret <= 0)
		return ret == 0 ? -ENOENT : ret;
	ret = row(reg, st, out);
	sqlite3_reset(st);
	return ret;
}

/* ---- nodes ---- */

void registry_node_clear(struct registry_node *n)
{
	if (!n)
		return;
	free(n->endpoints);
	memset(n, 0, sizeof(*n));
}

void registry_nodes_free(struct registry_node *nodes, size_t n)
{
	for (size_t i = 0; nodes && i < n; i++)
		registry_node_clear(&nodes[i]);
	free(nodes);
}

static void copy_text(char *dst, size_t len, const unsigned char *text)
{
	snprintf(dst, len, "%s", text ? (const char *)text : "");
}

static int parse_host(struct prefix *p, const unsigned char *text, int family)
{
	if (!text || prefix_parse(p, (const char *)text) < 0 || p->family != family)
		return -1;
	return p->len == addr_len(family) * 8 ? 0 : -1;
}

/* The JSON array of "ip:port" strings, as stored. */
static int endpoints_decode(struct registry_node *n, const unsigned char *text)
{
	json_t *doc = text ? json_loads((const char *)text, 0, NULL) : NULL;
	size_t i, count = json_array_size(doc);
	int ret = json_is_array(doc) ? 0 : -EINVAL;

	n->endpoints = count ? calloc(count, sizeof(*n->endpoints)) : NULL;
	if (count && !n->endpoints)
		ret = -ENOMEM;
	for (i = 0; ret == 0 && i < count; i++) {
		const char *s = json_string_value(json_array_get(doc, i));

		if (!s || endpoint_parse(&n->endpoints[i], s) < 0)
			ret = -EINVAL;
		else
			n->n_endpoints++;
	}
	json_decref(doc);
	return ret;
}

static char *endpoints_encode(const struct endpoint *eps, size_t n)
{
	json_t *doc = json_array();
	char text[ENDPOINT_STR_LEN], *out = NULL;

	for (size_t i = 0; doc && i < n; i++) {
		endpoint_format(&eps[i], text, sizeof(text));
		if (json_array_append_new(doc, json_string(text)) < 0)
			goto out;
	}
	out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
out:
	json_decref(doc);
	return out;
}

/* Fills out from a row of NODE_COLUMNS. */
static int row_to_node(struct registry *reg, sqlite3_stmt *st, void *out)
{
	struct registry_node n = { 0 };
	int64_t id = sqlite3_column_int64(st, 0);
	int ret;

	if (id < 1 || id > UINT32_MAX || sqlite3_column_bytes(st, 3) != KEY_LEN)
		return bad_data(reg, "a node's id or key");
	n.id = (uint32_t)id;
	copy_text(n.name, sizeof(n.name), sqlite3_column_text(st, 1));
	copy_text(n.hostname, sizeof(n.hostname), sqlite3_column_text(st, 2));
	memcpy(n.public_key, sqlite3_column_blob(st, 3), KEY_LEN);
	if (parse_host(&n.addr4, sqlite3_column_text(st, 4), AF_INET) < 0 ||
	    parse_host(&n.addr6, sqlite3_column_text(st, 5), AF_INET6) < 0)
		return bad_data(reg, "a node's address");
	n.created_at = sqlite3_column_int64(st, 6);
	n.last_seen = sqlite3_column_int64(st, 7);
	ret = endpoints_decode(&n, sqlite3_column_text(st, 8));
	if (ret < 0) {
		registry_node_clear(&n);
		return ret == -ENOMEM ? ret : bad_data(reg, "a node's endpoints");
	}
	*(struct registry_node *)out = n;
	return 0;
}

/* Runs a bound NODE_BY_* statement: 0 and the node in out (may be NULL), or
 * -ENOENT. */
static int node_fetch(struct registry *reg, sqlite3_stmt *st, struct registry_node *out)
{
	struct registry_node tmp;
	int ret = fetch_row(reg, st, row_to_node, out ? out : &tmp);

	if (ret == 0 && !out)
		registry_node_clear(&tmp);
	return ret;
}

int registry_node_by_key(struct registry *reg, const uint8_t key[KEY_LEN],
			 struct registry_node *out)
{
	sqlite3_stmt *st = stmt(reg, NODE_BY_KEY);

	sqlite3_bind_blob(st, 1, key, KEY_LEN, SQLITE_STATIC);
	return node_fetch(reg, st, out);
}

int registry_node_by_name(struct registry *reg, const char *name, struct registry_node *out)
{
	sqlite3_stmt *st = stmt(reg, NODE_BY_NAME);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return node_fetch(reg, st, out);
}

int registry_node_by_id(struct registry *reg, uint32_t id, struct registry_node *out)
{
	sqlite3_stmt *st = stmt(reg, NODE_BY_ID);

	sqlite3_bind_int64(st, 1, id);
	return node_fetch(reg, st, out);
}

int registry_node_find(struct registry *reg, const char *ref, struct registry_node *out)
{
	bool digits = *ref && ref[strspn(ref, "0123456789")] == '\0';
	unsigned long id = digits ? strtoul(ref, NULL, 10) : 0;

	if (id > 0 && id <= UINT32_MAX && registry_node_by_id(reg, (uint32_t)id, out) == 0)
		return 0;
	return registry_node_by_name(reg, ref, out);
}

static void nodes_release(void *nodes, size_t n)
{
	registry_nodes_free(nodes, n);
}

int registry_nodes(struct registry *reg, struct registry_node **out, size_t *n)
{
	void *list;
	int ret = list_rows(reg, NODES_ALL, sizeof(**out), row_to_node, nodes_release,
			    "listing nodes", &list, n);

	if (ret == 0)
		*out = list;
	return ret;
}

/* The text column of every row of a one-column statement, parsed as host
 * addresses of family. */
static int load_addresses(struct registry *reg, enum stmt which, int family, struct prefix **out,
			  size_t *n)
{
	sqlite3_stmt *st = stmt(reg, which);
	struct prefix *list = NULL;
	size_t count = 0, cap = 0;
	int ret = 0, rc;

	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = grow(&list, &cap, count, sizeof(*list));
		if (ret < 0)
			break;
		if (parse_host(&list[count++], sqlite3_column_text(st, 0), family) < 0)
			ret = bad_data(reg, "an address");
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(reg, rc, "listing addresses");
	sqlite3_reset(st);
	if (ret < 0)
		free(list);
	else
		*out = list, *n = count;
	return ret;
}

/* The lowest free address of net, formatted for the column. */
static int allocate(struct registry *reg, const struct prefix *net, char text[PREFIX_STR_LEN],
		    struct prefix *addr)
{
	struct prefix *used = NULL;
	size_t n_used = 0;
	int ret = load_addresses(reg, net->family == AF_INET ? NODE_ADDRS4 : NODE_ADDRS6,
				 net->family, &used, &n_used);

	if (ret == 0)
		ret = alloc_host_address(net, used, n_used, addr);
	free(used);
	if (ret == -ENOSPC) {
		char p[PREFIX_STR_LEN];

		prefix_format(net, p, sizeof(p));
		log_err("registry: no free address left in %s", p);
	}
	if (ret == 0)
		prefix_format_addr(addr, text, PREFIX_STR_LEN);
	return ret;
}

struct name_set {
	char (*names)[ALLOC_NAME_MAX + 1];
	size_t n;
};

static bool name_taken(void *ctx, const char *name)
{
	const struct name_set *set = ctx;

	for (size_t i = 0; i < set->n; i++)
		if (strcasecmp(set->names[i], name) == 0)
			return true;
	return false;
}

static int load_names(struct registry *reg, struct name_set *set)
{
	sqlite3_stmt *st = stmt(reg, NODE_NAMES);
	size_t cap = 0;
	int ret = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = grow(&set->names, &cap, set->n, sizeof(*set->names));
		if (ret < 0)
			break;
		copy_text(set->names[set->n++], sizeof(*set->names), sqlite3_column_text(st, 0));
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(reg, rc, "listing names");
	sqlite3_reset(st);
	return ret;
}

static int unique_name(struct registry *reg, const char *wanted, char name[ALLOC_NAME_MAX + 1])
{
	struct name_set set = { 0 };
	int ret = load_names(reg, &set);

	if (ret == 0)
		alloc_unique_name(wanted, name_taken, &set, name);
	free(set.names);
	return ret;
}

static int node_insert(struct registry *reg, const uint8_t key[KEY_LEN], const char *wanted,
		       const struct prefix *prefix4, const struct prefix *prefix6, int64_t now,
		       struct registry_node *out)
{
	char name[ALLOC_NAME_MAX + 1], hostname[ALLOC_NAME_MAX + 1];
	char a4[PREFIX_STR_LEN], a6[PREFIX_STR_LEN];
	struct prefix addr;
	sqlite3_stmt *st;
	int ret = registry_device_by_key(reg, key, NULL);

	if (ret == 0)
		return -EKEYREJECTED; /* a device's: one engine peer per key */
	ret = ret == -ENOENT ? unique_name(reg, wanted, name) : ret;
	if (ret == 0)
		ret = allocate(reg, prefix4, a4, &addr);
	if (ret == 0)
		ret = allocate(reg, prefix6, a6, &addr);
	if (ret < 0)
		return ret;
	snprintf(hostname, sizeof(hostname), "%s", wanted ? wanted : "");
	st = stmt(reg, NODE_INSERT);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hostname, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, key, KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a4, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a6, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	ret = step_done(reg, st);
	if (ret == 0)
		ret = registry_node_by_id(reg, (uint32_t)sqlite3_last_insert_rowid(reg->db), out);
	return ret;
}

/* Gives the node a new address of net when its address lies outside. */
static int readdress(struct registry *reg, struct registry_node *node, const struct prefix *net)
{
	bool v4 = net->family == AF_INET;
	struct prefix *addr = v4 ? &node->addr4 : &node->addr6;
	char text[PREFIX_STR_LEN];
	sqlite3_stmt *st;
	int ret;

	if (prefix_contains(net, addr))
		return 0;
	ret = allocate(reg, net, text, addr);
	if (ret < 0)
		return ret;
	log_info("registry: node %s moves to %s (the mesh prefix changed)", node->name, text);
	st = stmt(reg, v4 ? NODE_SET_ADDR4 : NODE_SET_ADDR6);
	sqlite3_bind_int64(st, 1, node->id);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	return step_done(reg, st);
}

int registry_node_upsert(struct registry *reg, const uint8_t key[KEY_LEN], const char *wanted_name,
			 const struct prefix *prefix4, const struct prefix *prefix6, int64_t now,
			 struct registry_node *out, bool *created)
{
	struct registry_node node = { 0 };
	bool fresh = false;
	int ret;

	if (prefix4->family != AF_INET || prefix6->family != AF_INET6)
		return -EINVAL;
	ret = op_begin(reg);
	if (ret < 0)
		return ret;
	ret = registry_node_by_key(reg, key, &node);
	if (ret == -ENOENT) {
		fresh = true;
		ret = node_insert(reg, key, wanted_name, prefix4, prefix6, now, &node);
	} else if (ret == 0) {
		ret = readdress(reg, &node, prefix4);
		if (ret == 0)
			ret = readdress(reg, &node, prefix6);
	}
	ret = op_end(reg, ret);
	if (ret < 0) {
		registry_node_clear(&node);
		return ret;
	}
	if (created)
		*created = fresh;
	if (out)
		*out = node;
	else
		registry_node_clear(&node);
	return 0;
}

/* Runs a bound statement that changes one node: -ENOENT when none. */
static int change_node(struct registry *reg, sqlite3_stmt *st)
{
	int ret = step_done(reg, st);

	return ret == 0 && sqlite3_changes(reg->db) == 0 ? -ENOENT : ret;
}

int registry_node_remove(struct registry *reg, uint32_t id)
{
	sqlite3_stmt *st = stmt(reg, NODE_DELETE);

	sqlite3_bind_int64(st, 1, id);
	return change_node(reg, st);
}

int registry_node_seen(struct registry *reg, uint32_t id, int64_t now, const struct endpoint *eps,
		       size_t n)
{
	sqlite3_stmt *st = stmt(reg, eps ? NODE_SEEN_ENDPOINTS : NODE_SEEN);
	char *text = eps ? endpoints_encode(eps, n) : NULL;
	int ret;

	if (eps && !text)
		return -ENOMEM;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	if (text)
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	ret = change_node(reg, st);
	free(text);
	return ret;
}

int registry_node_endpoints_differ(struct registry *reg, uint32_t id, const struct endpoint *eps,
				   size_t n, bool *differ)
{
	struct registry_node node;
	char *stored = NULL, *text = endpoints_encode(eps, n);
	int ret = text ? registry_node_by_id(reg, id, &node) : -ENOMEM;

	if (ret == 0) {
		stored = endpoints_encode(node.endpoints, node.n_endpoints);
		ret = stored ? 0 : -ENOMEM;
		registry_node_clear(&node);
	}
	if (ret == 0)
		*differ = strcmp(stored, text) != 0;
	free(stored);
	free(text);
	return ret;
}

/* ---- routes ---- */

bool registry_route_is_exit(const struct prefix *p)
{
	return (p->family == AF_INET || p->family == AF_INET6) && p->len == 0;
}

static bool auto_approved(const struct prefix *p, const struct prefix *auto_routes, size_t n_auto,
			  bool auto_exit)
{
	if (registry_route_is_exit(p))
		return auto_exit;
	for (size_t i = 0; i < n_auto; i++)
		if (prefix_contains(&auto_routes[i], p))
			return true;
	return false;
}

static bool route_listed(const struct prefix *p, const struct prefix *routes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_equal(p, &routes[i]))
			return true;
	return false;
}

static int node_exists(struct registry *reg, uint32_t id)
{
	sqlite3_stmt *st = stmt(reg, NODE_EXISTS);
	int ret;

	sqlite3_bind_int64(st, 1, id);
	ret = step_row(reg, st);
	sqlite3_reset(st);
	return ret < 0 ? ret : ret ? 0 : -ENOENT;
}

/* The prefixes a node advertises, as stored (text). */
static int load_route_texts(struct registry *reg, uint32_t node_id, char (**out)[PREFIX_STR_LEN],
			    size_t *n)
{
	sqlite3_stmt *st = stmt(reg, ROUTES_OF_NODE);
	char(*list)[PREFIX_STR_LEN] = NULL;
	size_t count = 0, cap = 0;
	int ret = 0, rc;

	sqlite3_bind_int64(st, 1, node_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = grow(&list, &cap, count, sizeof(*list));
		if (ret < 0)
			break;
		copy_text(list[count++], sizeof(*list), sqlite3_column_text(st, 0));
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(reg, rc, "listing routes");
	sqlite3_reset(st);
	if (ret < 0)
		free(list);
	else
		*out = list, *n = count;
	return ret;
}

static int route_delete(struct registry *reg, uint32_t node_id, const char *text)
{
	sqlite3_stmt *st = stmt(reg, ROUTE_DELETE);

	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	return step_done(reg, st);
}

/* Deletes the stored routes of node_id that routes[0..n) leaves out. */
static int forget_routes(struct registry *reg, uint32_t node_id, const struct prefix *routes,
			 size_t n, bool *changed)
{
	char(*stored)[PREFIX_STR_LEN] = NULL;
	size_t n_stored = 0;
	struct prefix p;
	int ret = load_route_texts(reg, node_id, &stored, &n_stored);

	for (size_t i = 0; ret == 0 && i < n_stored; i++) {
		if (prefix_parse(&p, stored[i]) == 0 && route_listed(&p, routes, n))
			continue;
		ret = route_delete(reg, node_id, stored[i]);
		*changed = true;
	}
	free(stored);
	return ret;
}

static int route_insert(struct registry *reg, uint32_t node_id, const struct prefix *p,
			bool approved, bool *changed)
{
	sqlite3_stmt *st = stmt(reg, ROUTE_INSERT);
	char text[PREFIX_STR_LEN];
	int ret;

	prefix_format(p, text, sizeof(text));
	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, approved);
	ret = step_done(reg, st);
	if (ret == 0 && sqlite3_changes(reg->db) > 0)
		*changed = true;
	return ret;
}

/* Whether the node advertises exactly routes already (reads only). */
static int routes_same(struct registry *reg, uint32_t node_id, const struct prefix *routes,
		       size_t n, bool *same)
{
	char(*stored)[PREFIX_STR_LEN] = NULL;
	size_t n_stored = 0;
	struct prefix p;
	int ret = node_exists(reg, node_id);

	if (ret == 0)
		ret = load_route_texts(reg, node_id, &stored, &n_stored);
	*same = ret == 0;
	for (size_t i = 0; *same && i < n_stored; i++)
		*same = prefix_parse(&p, stored[i]) == 0 && route_listed(&p, routes, n);
	for (size_t i = 0; *same && i < n; i++) {
		char text[PREFIX_STR_LEN];
		bool found = false;

		prefix_format(&routes[i], text, sizeof(text));
		for (size_t j = 0; j < n_stored && !found; j++)
			found = !strcmp(text, stored[j]);
		*same = found;
	}
	free(stored);
	return ret;
}

int registry_routes_advertise(struct registry *reg, uint32_t node_id, const struct prefix *routes,
			      size_t n, const struct prefix *auto_routes, size_t n_auto,
			      bool auto_exit, bool *changed)
{
	bool any = false, same;
	int ret;

	for (size_t i = 0; i < n; i++)
		if (!addr_len(routes[i].family) || !prefix_is_network(&routes[i]))
			return -EINVAL;
	ret = routes_same(reg, node_id, routes, n, &same);
	if (ret < 0 || same) {
		if (ret == 0 && changed)
			*changed = false;
		return ret;
	}
	ret = op_begin(reg);
	if (ret < 0)
		return ret;
	ret = node_exists(reg, node_id);
	if (ret == 0)
		ret = forget_routes(reg, node_id, routes, n, &any);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		bool approve = auto_approved(&routes[i], auto_routes, n_auto, auto_exit);
		struct registry_route other;

		/* A prefix inside another node's approved route wins by longest
		 * match at once, one around it catches what that route does not,
		 * and an equal one makes a standby router that is primary
		 * whenever its id is lower (netmap_build.c): taking over (part
		 * of) another node's traffic is the admin's decision. */
		if (approve && !registry_route_is_exit(&routes[i]))
			ret = registry_route_overlap(reg, node_id, &routes[i], &other);
		if (ret > 0)
			approve = false;
		if (ret >= 0)
			ret = route_insert(reg, node_id, &routes[i], approve, &any);
	}
	ret = op_end(reg, ret);
	if (ret == 0 && changed)
		*changed = any;
	return ret;
}

static int route_own(struct registry *reg, uint32_t node_id, const struct prefix *p, bool *changed)
{
	sqlite3_stmt *st = stmt(reg, ROUTE_OWN);
	char text[PREFIX_STR_LEN];
	int ret;

	prefix_format(p, text, sizeof(text));
	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	ret = step_done(reg, st);
	if (ret == 0 && sqlite3_changes(reg->db) > 0)
		*changed = true;
	return ret;
}

int registry_routes_own(struct registry *reg, uint32_t node_id, const struct prefix *routes,
			size_t n, bool *changed)
{
	bool any = false;
	int ret;

	for (size_t i = 0; i < n; i++)
		if (!addr_len(routes[i].family) || !prefix_is_network(&routes[i]))
			return -EINVAL;
	ret = op_begin(reg);
	if (ret < 0)
		return ret;
	ret = node_exists(reg, node_id);
	if (ret == 0)
		ret = forget_routes(reg, node_id, routes, n, &any);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = route_own(reg, node_id, &routes[i], &any);
	ret = op_end(reg, ret);
	if (ret == 0 && changed)
		*changed = any;
	return ret;
}

int registry_route_set_approved(struct registry *reg, uint32_t node_id, const struct prefix *p,
				bool approved)
{
	sqlite3_stmt *st = stmt(reg, ROUTE_APPROVE);
	char text[PREFIX_STR_LEN];
	struct prefix net = *p;

	prefix_mask(&net);
	prefix_format(&net, text, sizeof(text));
	sqlite3_bind_int64(st, 1, node_id);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, approved);
	return change_node(reg, st);
}

static int route_cmp(const void *a, const void *b)
{
	const struct registry_route *x = a, *y = b;
	int c;

	if (x->node_id != y->node_id)
		return x->node_id < y->node_id ? -1 : 1;
	if (x->prefix.family != y->prefix.family)
		return x->prefix.family == AF_INET ? -1 : 1;
	c = memcmp(x->prefix.addr, y->prefix.addr, sizeof(x->prefix.addr));
	return c ? c : (int)x->prefix.len - (int)y->prefix.len;
}

static int row_to_route(struct registry *reg, sqlite3_stmt *st, void *out)
{
	struct registry_route *r = out;
	const unsigned char *text = sqlite3_column_text(st, 1);
	int64_t id = sqlite3_column_int64(st, 0);

	if (id < 1 || id > UINT32_MAX || !text || prefix_parse(&r->prefix, (const char *)text) < 0)
		return bad_data(reg, "a route");
	r->node_id = (uint32_t)id;
	r->approved = sqlite3_column_int(st, 2) != 0;
	return 0;
}

int registry_route_overlap(struct registry *reg, uint32_t node_id, const struct prefix *p,
			   struct registry_route *other)
{
	sqlite3_stmt *st = stmt(reg, ROUTES_APPROVED_OTHERS);
	int ret = 0, rc;

	sqlite3_bind_int64(st, 1, node_id);
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = row_to_route(reg, st, other);
		if (ret == 0 && !registry_route_is_exit(&other->prefix) &&
		    prefix_overlaps(&other->prefix, p))
			ret = 1;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(reg, rc, "listing routes");
	sqlite3_reset(st);
	return ret;
}

int registry_routes(struct registry *reg, struct registry_route **out, size_t *n)
{
	void *list;
	int ret = list_rows(reg, ROUTES_ALL, sizeof(**out), row_to_route, NULL, "listing routes",
			    &list, n);

	if (ret < 0)
		return ret;
	if (*n)
		qsort(list, *n, sizeof(**out), route_cmp);
	*out = list;
	return 0;
}

/* ---- invites ---- */

int registry_invite_add(struct registry *reg, const uint8_t secret_hash[REGISTRY_HASH_LEN],
			int64_t now, int64_t expires_at, bool reusable, uint64_t *id)
{
	sqlite3_stmt *st = stmt(reg, INVITE_INSERT);
	int ret;

	if (expires_at < 0)
		return -EINVAL;
	sqlite3_bind_blob(st, 1, secret_hash, REGISTRY_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, expires_at);
	sqlite3_bind_int(st, 4, reusable);
	ret = step_done(reg, st);
	if (ret == 0)
		*id = (uint64_t)sqlite3_last_insert_rowid(reg->db);
	return ret;
}

static enum invite_state invite_state(sqlite3_stmt *st, const uint8_t hash[REGISTRY_HASH_LEN],
				      int64_t now)
{
	const void *stored = sqlite3_column_blob(st, 0);
	int64_t expires_at = sqlite3_column_int64(st, 1);
	bool reusable = sqlite3_column_int(st, 2) != 0;
	bool used = sqlite3_column_type(st, 3) != SQLITE_NULL;

	if (sqlite3_column_bytes(st, 0) != REGISTRY_HASH_LEN ||
	    sodium_memcmp(stored, hash, REGISTRY_HASH_LEN) != 0)
		return INVITE_UNKNOWN;
	if (used && !reusable)
		return INVITE_USED;
	if (expires_at != 0 && now >= expires_at)
		return INVITE_EXPIRED;
	return INVITE_VALID;
}

enum invite_state registry_invite_check(struct registry *reg, uint64_t id,
					const uint8_t secret_hash[REGISTRY_HASH_LEN], int64_t now)
{
	sqlite3_stmt *st = stmt(reg, INVITE_GET);
	enum invite_state state = INVITE_UNKNOWN;

	if (id > INT64_MAX)
		return INVITE_UNKNOWN;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	if (step_row(reg, st) == 1)
		state = invite_state(st, secret_hash, now);
	sqlite3_reset(st);
	return state;
}

int registry_invite_use(struct registry *reg, uint64_t id, uint32_t node_id, int64_t now)
{
	sqlite3_stmt *st = stmt(reg, INVITE_USE);
	int ret;

	if (id > INT64_MAX)
		return -ENOENT;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, node_id);
	ret = step_done(reg, st);
	if (ret < 0 || sqlite3_changes(reg->db) > 0)
		return ret;
	st = stmt(reg, INVITE_EXISTS);
	sqlite3_bind_int64(st, 1, (int64_t)id);
	ret = step_row(reg, st);
	sqlite3_reset(st);
	return ret < 0 ? ret : ret ? -EALREADY : -ENOENT;
}

int registry_invites_prune(struct registry *reg, int64_t now, int64_t used_grace)
{
	sqlite3_stmt *st = stmt(reg, INVITES_PRUNE);

	if (used_grace < 0)
		return -EINVAL;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, used_grace);
	return step_done(reg, st);
}

static int row_to_invite(struct registry *reg, sqlite3_stmt *st, void *out)
{
	struct registry_invite *inv = out;
	int64_t id = sqlite3_column_int64(st, 0), by = sqlite3_column_int64(st, 5);

	if (id < 1 || by < 0 || by > UINT32_MAX)
		return bad_data(reg, "an invite");
	*inv = (struct registry_invite){
		.id = (uint64_t)id,
		.created_at = sqlite3_column_int64(st, 1),
		.expires_at = sqlite3_column_int64(st, 2),
		.reusable = sqlite3_column_int(st, 3) != 0,
		.used = sqlite3_column_type(st, 4) != SQLITE_NULL,
		.used_at = sqlite3_column_int64(st, 4),
		.used_by = (uint32_t)by,
	};
	return 0;
}

int registry_invites(struct registry *reg, struct registry_invite **out, size_t *n)
{
	void *list;
	int ret = list_rows(reg, INVITES_ALL, sizeof(**out), row_to_invite, NULL, "listing invites",
			    &list, n);

	if (ret == 0)
		*out = list;
	return ret;
}

int registry_invite_remove(struct registry *reg, uint64_t id)
{
	sqlite3_stmt *st = stmt(reg, INVITE_DELETE);
	int ret;

	if (id < 1 || id > INT64_MAX)
		return -ENOENT;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	ret = step_done(reg, st);
	return ret < 0 ? ret : sqlite3_changes(reg->db) > 0 ? 0 : -ENOENT;
}

/* ---- devices ---- */

static int row_to_device(struct registry *reg, sqlite3_stmt *st, void *out)
{
	struct registry_device d = { 0 };
	int64_t id = sqlite3_column_int64(st, 0), hub = sqlite3_column_int64(st, 3);

	if (id < 1 || id > UINT32_MAX || hub < 1 || hub > UINT32_MAX ||
	    sqlite3_column_bytes(st, 2) != KEY_LEN)
		return bad_data(reg, "a device's id, key or hub");
	d.id = (uint32_t)id;
	copy_text(d.name, sizeof(d.name), sqlite3_column_text(st, 1));
	memcpy(d.public_key, sqlite3_column_blob(st, 2), KEY_LEN);
	d.hub_id = (uint32_t)hub;
	if (parse_host(&d.addr4, sqlite3_column_text(st, 4), AF_INET) < 0 ||
	    parse_host(&d.addr6, sqlite3_column_text(st, 5), AF_INET6) < 0)
		return bad_data(reg, "a device's address");
	d.exit_node = sqlite3_column_int(st, 6) != 0;
	d.created_at = sqlite3_column_int64(st, 7);
	*(struct registry_device *)out = d;
	return 0;
}

/* Runs a bound DEVICE_BY_* statement: 0 and the device in out (may be
 * NULL), or -ENOENT. */
static int device_fetch(struct registry *reg, sqlite3_stmt *st, struct registry_device *out)
{
	struct registry_device tmp;

	return fetch_row(reg, st, row_to_device, out ? out : &tmp);
}

int registry_device_by_name(struct registry *reg, const char *name, struct registry_device *out)
{
	sqlite3_stmt *st = stmt(reg, DEVICE_BY_NAME);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return device_fetch(reg, st, out);
}

int registry_device_by_key(struct registry *reg, const uint8_t key[KEY_LEN],
			   struct registry_device *out)
{
	sqlite3_stmt *st = stmt(reg, DEVICE_BY_KEY);

	sqlite3_bind_blob(st, 1, key, KEY_LEN, SQLITE_STATIC);
	return device_fetch(reg, st, out);
}

int registry_key_revoked(struct registry *reg, const uint8_t key[KEY_LEN],
			 char name[ALLOC_NAME_MAX + 1])
{
	sqlite3_stmt *st = stmt(reg, REVOKED_BY_KEY);
	int ret;

	sqlite3_bind_blob(st, 1, key, KEY_LEN, SQLITE_STATIC);
	ret = step_row(reg, st);
	if (ret == 1 && name)
		copy_text(name, ALLOC_NAME_MAX + 1, sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return ret;
}

/* 0 when none of the refusals of registry_device_add() applies. */
static int device_admissible(struct registry *reg, const char *name, const uint8_t key[KEY_LEN],
			     uint32_t hub_id)
{
	int ret = node_exists(reg, hub_id);

	if (ret < 0)
		return ret;
	ret = registry_node_by_name(reg, name, NULL);
	if (ret == -ENOENT)
		ret = registry_device_by_name(reg, name, NULL);
	if (ret != -ENOENT)
		return ret == 0 ? -EEXIST : ret;
	ret = registry_key_revoked(reg, key, NULL);
	if (ret != 0)
		return ret > 0 ? -EKEYREVOKED : ret;
	ret = registry_node_by_key(reg, key, NULL);
	if (ret == -ENOENT)
		ret = registry_device_by_key(reg, key, NULL);
	return ret == 0 ? -EKEYREJECTED : ret == -ENOENT ? 0 : ret;
}

static int device_insert(struct registry *reg, const char *name, const uint8_t key[KEY_LEN],
			 uint32_t hub_id, bool exit_node, const struct prefix *prefix4,
			 const struct prefix *prefix6, int64_t now, struct registry_device *out)
{
	char a4[PREFIX_STR_LEN], a6[PREFIX_STR_LEN];
	struct prefix addr;
	sqlite3_stmt *st;
	int ret = device_admissible(reg, name, key, hub_id);

	if (ret == 0)
		ret = allocate(reg, prefix4, a4, &addr);
	if (ret == 0)
		ret = allocate(reg, prefix6, a6, &addr);
	if (ret < 0)
		return ret;
	st = stmt(reg, DEVICE_INSERT);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, key, KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, hub_id);
	sqlite3_bind_text(st, 4, a4, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a6, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, exit_node);
	sqlite3_bind_int64(st, 7, now);
	ret = step_done(reg, st);
	if (ret == 0)
		ret = registry_device_by_key(reg, key, out);
	return ret;
}

int registry_device_add(struct registry *reg, const char *name, const uint8_t key[KEY_LEN],
			uint32_t hub_id, bool exit_node, const struct prefix *prefix4,
			const struct prefix *prefix6, int64_t now, struct registry_device *out)
{
	struct registry_device d;
	int ret;

	if (!name || !alloc_name_valid(name) || prefix4->family != AF_INET ||
	    prefix6->family != AF_INET6)
		return -EINVAL;
	ret = op_begin(reg);
	if (ret < 0)
		return ret;
	ret = op_end(reg,
		     device_insert(reg, name, key, hub_id, exit_node, prefix4, prefix6, now, &d));
	if (ret == 0 && out)
		*out = d;
	return ret;
}

int registry_device_remove(struct registry *reg, uint32_t id)
{
	sqlite3_stmt *st = stmt(reg, DEVICE_DELETE);
	int ret;

	sqlite3_bind_int64(st, 1, id);
	ret = step_done(reg, st);
	return ret < 0 ? ret : sqlite3_changes(reg->db) > 0 ? 0 : -ENOENT;
}

int registry_devices(struct registry *reg, struct registry_device **out, size_t *n)
{
	void *list;
	int ret = list_rows(reg, DEVICES_ALL, sizeof(**out), row_to_device, NULL, "listing devices",
			    &list, n);

	if (ret == 0)
		*out = list;
	return ret;
}

/* ---- netmap versions ---- */

int registry_next_version(struct registry *reg, uint64_t *version)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int ret = op_begin(reg);

	if (ret < 0)
		return ret;
	ret = step_done(reg, stmt(reg, VERSION_BUMP));
	if (ret == 0) {
		st = stmt(reg, VERSION_GET);
		ret = step_row(reg, st);
		if (ret == 1)
			v = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		ret = ret < 0 ? ret : v >= 1 ? 0 : bad_data(reg, "the netmap version");
	}
	ret = op_end(reg, ret);
	if (ret == 0)
		*version = (uint64_t)v;
	return ret;
}

/* ---- the access policy's revision ---- */

int registry_policy_get(struct registry *reg, uint8_t digest[REGISTRY_POLICY_DIGEST_LEN],
			uint64_t *revision)
{
	sqlite3_stmt *st = stmt(reg, POLICY_GET);
	int ret = step_row(reg, st);

	if (ret == 1) {
		const void *d = sqlite3_column_blob(st, 0);
		int64_t r = sqlite3_column_int64(st, 1);

		if (d && sqlite3_column_bytes(st, 0) == REGISTRY_POLICY_DIGEST_LEN && r >= 0) {
			memcpy(digest, d, REGISTRY_POLICY_DIGEST_LEN);
			*revision = (uint64_t)r;
			ret = 0;
		} else {
			ret = bad_data(reg, "the policy digest");
		}
	} else if (ret == 0) {
		ret = -ENOENT;
	}
	sqlite3_reset(st);
	return ret;
}

int registry_policy_set(struct registry *reg, const uint8_t digest[REGISTRY_POLICY_DIGEST_LEN],
			uint64_t revision)
{
	sqlite3_stmt *st = stmt(reg, POLICY_SET);

	sqlite3_bind_blob(st, 1, digest, REGISTRY_POLICY_DIGEST_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)revision);
	return step_done(reg, st);
}

/* ---- the audit log ---- */

int registry_audit_add(struct registry *reg, int64_t now, const char *actor, int64_t uid,
		       const char *action, const char *subject, const char *detail)
{
	sqlite3_stmt *st;
	int ret;

	if (!actor || !actor[0] || !action || !action[0])
		return -EINVAL;
	ret = op_begin(reg);
	if (ret < 0)
		return ret;
	st = stmt(reg, AUDIT_INSERT);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	if (uid >= 0)
		sqlite3_bind_int64(st, 3, uid);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, subject ? subject : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, detail ? detail : "", -1, SQLITE_STATIC);
	ret = step_done(reg, st);
	if (ret == 0) {
		st = stmt(reg, AUDIT_TRIM);
		sqlite3_bind_int64(st, 1, REGISTRY_AUDIT_KEEP);
		ret = step_done(reg, st);
	}
	return op_end(reg, ret);
}

static int row_to_audit(struct registry *reg, sqlite3_stmt *st, void *out)
{
	struct registry_audit a = { 0 };

	a.id = sqlite3_column_int64(st, 0);
	if (a.id < 1)
		return bad_data(reg, "an audit entry's id");
	a.time = sqlite3_column_int64(st, 1);
	copy_text(a.actor, sizeof(a.actor), sqlite3_column_text(st, 2));
	a.uid = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
	copy_text(a.action, sizeof(a.action), sqlite3_column_text(st, 4));
	copy_text(a.subject, sizeof(a.subject), sqlite3_column_text(st, 5));
	copy_text(a.detail, sizeof(a.detail), sqlite3_column_text(st, 6));
	*(struct registry_audit *)out = a;
	return 0;
}

/* The rows st selects, in a new array; st is reset. */
static int audit_rows(struct registry *reg, sqlite3_stmt *st, struct registry_audit **out,
		      size_t *n)
{
	void *list = NULL;
	size_t count = 0, cap = 0;
	int ret = 0, rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = grow(&list, &cap, count, sizeof(**out));
		if (ret == 0)
			ret = row_to_audit(reg, st, (struct registry_audit *)list + count);
		count += ret == 0;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sql_fail(reg, rc, "listing the audit log");
	sqlite3_reset(st);
	if (ret < 0) {
		free(list);
		return ret;
	}
	*out = list;
	*n = count;
	return 0;
}

static int64_t audit_limit(size_t limit)
{
	return limit > REGISTRY_AUDIT_KEEP ? REGISTRY_AUDIT_KEEP : (int64_t)limit;
}

int registry_audit_list(struct registry *reg, int64_t since, size_t limit,
			struct registry_audit **out, size_t *n)
{
	sqlite3_stmt *st = stmt(reg, AUDIT_LIST);

	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, audit_limit(limit));
	return audit_rows(reg, st, out, n);
}

int registry_audit_page(struct registry *reg, int64_t since, size_t limit, int64_t after,
			size_t page, struct registry_audit **out, size_t *n)
{
	sqlite3_stmt *st = stmt(reg, AUDIT_PAGE);

	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, audit_limit(limit));
	sqlite3_bind_int64(st, 3, after);
	sqlite3_bind_int64(st, 4, audit_limit(page));
	return audit_rows(reg, st, out, n);
}
