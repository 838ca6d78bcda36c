// The gallery's instant filter and the setup form's live schedule preview. Both pages work without this
// script: the gallery filters through its query string, and the form shows the preview after submitting.
(() => {
  const filter = document.querySelector("[data-gallery-filter]");
  if (filter) {
    const cards = [...document.querySelectorAll(".template-card")];
    const count = document.querySelector("[data-gallery-count]");
    const empty = document.querySelector("[data-gallery-empty]");
    const apply = () => {
      const words = filter.elements.q.value.toLowerCase().split(/\s+/).filter(Boolean);
      const category = filter.elements.category.value;
      let shown = 0;
      for (const card of cards) {
        const match = (!category || card.dataset.category === category)
          && words.every((word) => card.dataset.search.includes(word));
        card.hidden = !match;
        shown += match ? 1 : 0;
      }
      count.textContent = shown === cards.length ? `${cards.length} templates` : `${shown} of ${cards.length} templates`;
      empty.hidden = shown > 0;
      const params = new URLSearchParams();
      if (filter.elements.q.value) params.set("q", filter.elements.q.value);
      if (category) params.set("category", category);
      history.replaceState(null, "", params.size ? `?${params}` : location.pathname);
    };
    filter.addEventListener("input", apply);
    filter.addEventListener("change", apply);
    filter.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  }

  // After a refused submit, start where the first problem is.
  const invalid = document.querySelector('form [aria-invalid="true"]');
  if (invalid) invalid.focus();

  const render = (box, data) => {
    box.replaceChildren();
    const add = (tag, text, className) => {
      const node = document.createElement(tag);
      if (text) node.textContent = text;
      if (className) node.className = className;
      box.appendChild(node);
      return node;
    };
    if (data.error) {
      add("p", data.error.message, "error");
      return;
    }
    add("p").appendChild(document.createElement("strong")).textContent = data.description;
    add("p", "Next runs:", "muted");
    const list = add("ul");
    for (const moment of data.next_runs_text) {
      list.appendChild(document.createElement("li")).textContent = moment;
    }
  };

  for (const input of document.querySelectorAll("[data-schedule-preview]")) {
    const box = document.getElementById(input.dataset.schedulePreview);
    const zone = input.dataset.timezoneField ? document.getElementById(input.dataset.timezoneField) : null;
    let timer = null;
    let asked = 0;
    const preview = () => {
      const cron = input.value.trim();
      if (!cron) { box.replaceChildren(); return; }
      const params = new URLSearchParams({ cron, timezone: zone ? zone.value : "UTC" });
      const ask = ++asked;
      fetch(`${box.dataset.url}?${params}`, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((response) => response.json())
        .then((data) => { if (ask === asked) render(box, data); })
        .catch(() => {});
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(preview, 300); };
    input.addEventListener("input", later);
    if (zone) zone.addEventListener("change", later);
  }
})();
