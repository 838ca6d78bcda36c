// PM2 process file for Relay: the web server, the workers and the scheduler (docs/deploy.md, "PM2").
//
// Run it from this folder with Relay's virtualenv first on PATH and the settings in the environment:
//
//   set -a && . ./.env && set +a          # DATABASE_URL, REDIS_URL, SECRET_KEY, RELAY_SECRET_KEYS, ...
//   PATH="$PWD/.venv/bin:$PATH" relay db upgrade   # once per release, before the new code serves
//   PATH="$PWD/.venv/bin:$PATH" pm2 start ecosystem.config.js
//   pm2 save && pm2 startup               # start them again after a reboot
//
// PM2 hands its own environment to the processes, so no setting or secret is written here. Logs go to
// instance/logs/ (rotate them with pm2-logrotate). `pm2 reload relay-web` restarts the web server; a
// `pm2 stop` sends SIGTERM and waits kill_timeout before SIGKILL, so a worker finishes the run it is on.
"use strict";

const fs = require("fs");
const path = require("path");

const LOG_DIR = path.join(__dirname, "instance", "logs");
fs.mkdirSync(LOG_DIR, { recursive: true });

// Seconds gunicorn gives requests in flight after SIGTERM; PM2 waits a little longer before SIGKILL.
const WEB_GRACE_SECONDS = 25;

function relayProcess(name, command, args, extra) {
  return {
    name,
    script: command,
    args,
    interpreter: "none", // console scripts of the virtualenv, found on PATH
    cwd: __dirname,
    exec_mode: "fork", // PM2's cluster mode is for Node programs only
    autorestart: true,
    exp_backoff_restart_delay: 200, // a crash loop waits 200 ms, 300 ms, ... up to 15 s between restarts
    max_restarts: 50,
    min_uptime: "10s",
    kill_signal: "SIGTERM", // PM2 sends SIGINT by default, which makes gunicorn drop requests in flight
    out_file: path.join(LOG_DIR, `${name}.out.log`),
    error_file: path.join(LOG_DIR, `${name}.err.log`),
    merge_logs: true, // one file per app, however many instances
    time: true,
    ...extra,
    env: { PYTHONUNBUFFERED: "1", ...(extra.env || {}) },
  };
}

module.exports = {
  apps: [
    relayProcess(
      "relay-web",
      "gunicorn",
      // No --bind: with PORT set gunicorn listens on 0.0.0.0:$PORT, and GUNICORN_CMD_ARGS="--bind ..." overrides it.
      ["--workers", process.env.WEB_CONCURRENCY || "2", "--threads", "4",
        "--graceful-timeout", String(WEB_GRACE_SECONDS), "app:app"],
      // gunicorn forks its own workers: one PM2 instance of it per machine.
      { instances: 1, kill_timeout: (WEB_GRACE_SECONDS + 5) * 1000, env: { PORT: process.env.PORT || "8000" } },
    ),
    relayProcess("relay-worker", "relay", ["worker"], {
      // Each worker runs one execution at a time; RELAY_WORKERS says how many (default 1, as for `relay up`).
      instances: Number(process.env.RELAY_WORKERS || 1),
      // A stopped worker finishes its current run first. Steps are short, but a slow HTTP step may take
      // RELAY_STEP_TIMEOUT; a worker killed anyway loses nothing (the reaper resumes its run).
      kill_timeout: 120 * 1000,
    }),
    // Start one per machine if you like: they elect one leader through Redis and the others stand by.
    relayProcess("relay-scheduler", "relay", ["scheduler"], { instances: 1, kill_timeout: 15 * 1000 }),
  ],
};
