-- A history database as the store of commit 20b2c0f wrote it (one row per call, no event
-- log): one session, a turn left 'started', one call that ran. Made by that code, dumped with
-- sqlite3 iterdump; read by tests/agent/test_store.py.
BEGIN TRANSACTION;
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, started_at REAL NOT NULL, profile TEXT, tools TEXT);
INSERT INTO "sessions" VALUES('27d154ae7373',1.79636570960521221159e+09,'old','["f"]');
CREATE TABLE tool_calls (
    id TEXT PRIMARY KEY, turn_id TEXT NOT NULL REFERENCES turns(id), session_id TEXT,
    name TEXT, arguments TEXT, confirmation TEXT, status TEXT, result TEXT, error TEXT,
    started_at REAL, finished_at REAL, duration_ms REAL);
INSERT INTO "tool_calls" VALUES('c1','54195632e036','27d154ae7373','f','{"a": 1}','not needed','ran','2',NULL,1.79636570960535836222e+09,1.79636570960540866846e+09,1.5);
CREATE TABLE turns (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), started_at REAL,
    transcript TEXT, emotion TEXT, emotion_confidence REAL, reply_text TEXT,
    status TEXT, timings TEXT);
INSERT INTO "turns" VALUES('54195632e036','27d154ae7373',1.79636570960530471798e+09,NULL,NULL,NULL,NULL,'started',NULL);
CREATE INDEX turns_by_session ON turns(session_id, started_at);
CREATE INDEX calls_by_turn ON tool_calls(turn_id);
COMMIT;
