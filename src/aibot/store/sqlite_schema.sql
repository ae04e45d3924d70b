-- The schema a first start creates on a SQLite file (store/sqlite_file.py): what
-- store/engine.py's _create_fresh runs through SQLAlchemy, without the stamp.
-- Generated from store/schema.py: `make sqlite-schema`. Do not edit.

CREATE TABLE conversations (
	session_key VARCHAR(255) NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	user_id VARCHAR(255) NOT NULL, 
	model VARCHAR(128), 
	context_from FLOAT NOT NULL, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (session_key)
);

CREATE TABLE turns (
	id INTEGER NOT NULL, 
	session_key VARCHAR(255) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	content TEXT NOT NULL, 
	reasoning TEXT, 
	provider VARCHAR(128), 
	model VARCHAR(128), 
	prompt_tokens INTEGER NOT NULL, 
	completion_tokens INTEGER NOT NULL, 
	request_id VARCHAR(64), 
	created_at FLOAT NOT NULL, 
	route VARCHAR(64), 
	tool_data TEXT, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_turns_request ON turns (request_id);

CREATE INDEX ix_turns_session_created ON turns (session_key, created_at);

CREATE TABLE ratings (
	request_id VARCHAR(64) NOT NULL, 
	user_id VARCHAR(255) NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	session_key VARCHAR(255) NOT NULL, 
	score INTEGER NOT NULL, 
	provider VARCHAR(128), 
	model VARCHAR(128), 
	route VARCHAR(64), 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (request_id, user_id)
);

CREATE INDEX ix_ratings_updated ON ratings (updated_at);

CREATE TABLE inbox (
	id INTEGER NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	message_id VARCHAR(255) NOT NULL, 
	session_key VARCHAR(255) NOT NULL, 
	user_id VARCHAR(255) NOT NULL, 
	text TEXT NOT NULL, 
	target TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	error TEXT, 
	received_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_inbox_channel_message UNIQUE (channel, message_id)
);

CREATE INDEX ix_inbox_status ON inbox (status, id);

CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	inbox_id INTEGER, 
	channel VARCHAR(32) NOT NULL, 
	session_key VARCHAR(255) NOT NULL, 
	target TEXT NOT NULL, 
	text TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at FLOAT NOT NULL, 
	last_error TEXT, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	owner VARCHAR(64), 
	PRIMARY KEY (id)
);

CREATE INDEX ix_outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE pairings (
	channel VARCHAR(32) NOT NULL, 
	user_id VARCHAR(255) NOT NULL, 
	code VARCHAR(16) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at FLOAT NOT NULL, 
	expires_at FLOAT NOT NULL, 
	approved_at FLOAT, 
	PRIMARY KEY (channel, user_id), 
	CONSTRAINT uq_pairings_code UNIQUE (code)
);

CREATE TABLE admin_users (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	password_hash TEXT NOT NULL, 
	totp_secret VARCHAR(255), 
	totp_last_step INTEGER, 
	must_change_password INTEGER DEFAULT '0' NOT NULL, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_admin_users_name UNIQUE (name)
);

CREATE TABLE admin_sessions (
	id VARCHAR(64) NOT NULL, 
	user_id INTEGER NOT NULL, 
	csrf VARCHAR(64) NOT NULL, 
	ip VARCHAR(64) NOT NULL, 
	created_at FLOAT NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_admin_sessions_user ON admin_sessions (user_id);

CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	target TEXT NOT NULL, 
	ip VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_audit_log_at ON audit_log (at);

CREATE TABLE login_failures (
	id INTEGER NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	at FLOAT NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_login_failures_key_at ON login_failures ("key", at);

CREATE TABLE api_keys (
	id INTEGER NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	prefix VARCHAR(16) NOT NULL, 
	scope VARCHAR(16) NOT NULL, 
	created_by VARCHAR(64) NOT NULL, 
	created_at FLOAT NOT NULL, 
	expires_at FLOAT, 
	revoked_at FLOAT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_api_keys_hash UNIQUE (key_hash)
);

CREATE TABLE data_keys (
	key_id VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	check_value TEXT, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (key_id)
);

CREATE TABLE store_jobs (
	name VARCHAR(64) NOT NULL, 
	owner VARCHAR(128), 
	lease_until FLOAT NOT NULL, 
	progress TEXT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE scheduled_tasks (
	id INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	job VARCHAR(64) NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	session_key VARCHAR(255) NOT NULL, 
	user_id VARCHAR(255) NOT NULL, 
	target TEXT NOT NULL, 
	text TEXT NOT NULL, 
	due_at FLOAT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	owner VARCHAR(128), 
	lease_until FLOAT NOT NULL, 
	attempts INTEGER NOT NULL, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_scheduled_tasks_run UNIQUE (job, due_at, session_key)
);

CREATE INDEX ix_scheduled_tasks_due ON scheduled_tasks (status, due_at);

CREATE INDEX ix_scheduled_tasks_user ON scheduled_tasks (session_key, user_id, status);

CREATE TABLE schedule_state (
	name VARCHAR(64) NOT NULL, 
	next_due FLOAT NOT NULL, 
	paused INTEGER NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE archive_objects (
	id INTEGER NOT NULL, 
	object_key VARCHAR(512) NOT NULL, 
	session_key VARCHAR(255) NOT NULL, 
	day VARCHAR(10) NOT NULL, 
	first_turn_id INTEGER NOT NULL, 
	last_turn_id INTEGER NOT NULL, 
	turns INTEGER NOT NULL, 
	first_at FLOAT NOT NULL, 
	last_at FLOAT NOT NULL, 
	size INTEGER NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	key_ids VARCHAR(255) NOT NULL, 
	archived_at FLOAT NOT NULL, 
	restored_at FLOAT, 
	manifest VARCHAR(512), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_archive_objects_key UNIQUE (object_key)
);

CREATE INDEX ix_archive_objects_session ON archive_objects (session_key, day);

CREATE TABLE token_signing_keys (
	id INTEGER NOT NULL, 
	kid VARCHAR(64) NOT NULL, 
	algorithm VARCHAR(16) NOT NULL, 
	private_key TEXT NOT NULL, 
	public_jwk TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_token_signing_keys_kid UNIQUE (kid)
);

CREATE TABLE token_revocations (
	jti VARCHAR(64) NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (jti)
);

CREATE TABLE media (
	id INTEGER NOT NULL, 
	session_key VARCHAR(255) NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	user_id VARCHAR(255) NOT NULL, 
	request_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(8) NOT NULL, 
	mime VARCHAR(128) NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	size INTEGER NOT NULL, 
	blob VARCHAR(64) NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_media_request ON media (request_id);

CREATE INDEX ix_media_session ON media (session_key, created_at);

CREATE INDEX ix_media_user ON media (user_id, created_at);

CREATE TABLE message_log (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	channel VARCHAR(32) NOT NULL, 
	provider VARCHAR(128), 
	failed INTEGER NOT NULL, 
	seconds FLOAT NOT NULL, 
	tokens INTEGER NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_message_log_at ON message_log (at);

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	PRIMARY KEY (version_num)
);
