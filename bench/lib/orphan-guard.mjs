// Preloaded (`node --import`) into every process the bench starts, so that none outlives the
// runner even when the runner is killed with SIGKILL: once the parent is gone (the process was
// re-parented), terminate (SIGTERM, then a hard exit 5 s later). One unref'd 500 ms timer; nothing
// on any request path.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid === parent) return;
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 5000).unref();
}, 500).unref();
