// Live run page: while a run is queued, running or waiting, poll its JSON every 1.5 s and, when anything
// changed, reload the live part of the page. Stops once the run has finished. Without JS: the Refresh link.
(() => {
  const live = document.getElementById("run-live");
  if (!live) return;
  const announce = document.getElementById("run-announce");
  const finished = () => live.querySelector("[data-finished]") !== null;
  const signature = (run) => [run.status, run.events.length,
    ...run.steps.map((s) => `${s.step_id}:${s.item_index}:${s.attempt}:${s.status}`)].join("|");
  let last = null;

  const reload = async () => {
    const response = await fetch(live.dataset.fragment, { credentials: "same-origin" });
    if (!response.ok) return;
    const focused = document.activeElement && live.contains(document.activeElement);
    live.innerHTML = await response.text();
    if (focused) live.focus();
  };

  const poll = async () => {
    if (finished()) return;
    if (!document.hidden) {
      try {
        const response = await fetch(live.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.ok) {
          const run = await response.json();
          const now = signature(run);
          // The first answer reloads too: the run may have moved on since the page was rendered.
          if (now !== last) {
            await reload();
            if (last !== null && announce) announce.textContent = `The run is ${run.status}.`;
          }
          last = now;
        }
      } catch (error) {
        // A dropped connection: try again on the next tick.
      }
    }
    if (!finished()) setTimeout(poll, 1500);
  };
  live.tabIndex = -1;
  poll();
})();
