/**
 * The console page's HTML and CSS, embedded as strings so the single binary serves them offline (#18); the script
 * is app-script.ts. Edited here directly. Keep both ASCII (HTML entities) and free of backticks and dollar-brace:
 * they live in String.raw templates, and the bundler rewrites non-ASCII characters in templates as escapes.
 */

export const INDEX_HTML: string = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sfbroker console</title>
<link rel="stylesheet" href="/console/app.css">
<script src="/console/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1>sfbroker <span id="node-name" class="muted"></span></h1>
  <p id="role-badge" class="badge" role="status" aria-live="polite">connecting&#x2026;</p>
  <p id="access" class="muted small" aria-live="polite"></p>
</header>
<div id="replica-banner" class="banner" role="note" hidden></div>
<nav aria-label="Sections">
  <ul id="tabs">
    <li><a href="#group" data-tab="group">Group</a></li>
    <li><a href="#destinations" data-tab="destinations">Destinations</a></li>
    <li><a href="#connections" data-tab="connections">Connections</a></li>
    <li><a href="#scheduler" data-tab="scheduler">Scheduler</a></li>
    <li><a href="#store" data-tab="store">Store</a></li>
  </ul>
</nav>
<main id="main" tabindex="-1">
  <section id="view-group" class="view" aria-labelledby="h-group">
    <h2 id="h-group">HA group</h2>
    <div id="group-body"></div>
  </section>
  <section id="view-destinations" class="view" aria-labelledby="h-dest" hidden>
    <h2 id="h-dest">Destinations</h2>
    <div class="toolbar">
      <label>Filter <input id="dest-filter" type="search" placeholder="name contains&#x2026;" autocomplete="off"></label>
      <label>Sort by <select id="dest-sort">
        <option value="destination">name</option><option value="depth">depth</option><option value="enqueued">enqueued</option>
        <option value="dequeued">dequeued</option><option value="consumers">consumers</option><option value="memoryBytes">memory</option>
        <option value="enqueueRate">rate in</option><option value="dequeueRate">rate out</option>
      </select></label>
    </div>
    <p id="dest-summary" class="muted"></p>
    <div id="dest-body" class="scroll"></div>
  </section>
  <section id="view-queue" class="view" aria-labelledby="h-queue" hidden>
    <h2 id="h-queue">Queue</h2>
    <p><a href="#destinations">&#x2190; all destinations</a></p>
    <div class="cols">
      <form id="send-form" class="card write-only" aria-labelledby="h-send">
        <h3 id="h-send">Send a message</h3>
        <label for="send-dest">Destination</label>
        <input id="send-dest" name="destination" required autocomplete="off">
        <label for="send-body">Body</label>
        <textarea id="send-body" name="body" rows="4"></textarea>
        <label for="send-headers">Headers (one <code>name: value</code> per line)</label>
        <textarea id="send-headers" name="headers" rows="2" placeholder="type: order"></textarea>
        <div class="row">
          <label class="inline"><input id="send-persistent" type="checkbox" checked> persistent</label>
          <label class="inline">delay ms <input id="send-delay" type="number" min="0" step="1" value="0" inputmode="numeric"></label>
        </div>
        <button id="send-btn" type="submit" class="write">Send</button>
      </form>
      <div class="card write-only">
        <h3>Selected messages</h3>
        <label for="move-to">Target queue</label>
        <input id="move-to" autocomplete="off" placeholder="/queue/ORDERS">
        <div class="row wrap">
          <button id="move-selected" type="button" class="write">Move selected</button>
          <button id="copy-selected" type="button" class="write">Copy selected</button>
          <button id="move-all" type="button" class="write">Move all</button>
          <button id="delete-selected" type="button" class="write">Delete selected</button>
        </div>
        <h3>Queue</h3>
        <div class="row wrap">
          <button id="purge-btn" type="button" class="write danger">Purge</button>
          <button id="delete-dest-btn" type="button" class="write danger">Delete queue (if empty)</button>
        </div>
      </div>
    </div>
    <p id="queue-summary" class="muted" aria-live="polite"></p>
    <div class="row">
      <button id="page-prev" type="button">&#x2190; Previous</button>
      <span id="page-info" class="muted"></span>
      <button id="page-next" type="button">Next &#x2192;</button>
    </div>
    <div id="queue-body" class="scroll"></div>
  </section>
  <section id="view-connections" class="view" aria-labelledby="h-conn" hidden>
    <h2 id="h-conn">Connections and subscriptions</h2>
    <div id="conn-body" class="scroll"></div>
  </section>
  <section id="view-scheduler" class="view" aria-labelledby="h-sched" hidden>
    <h2 id="h-sched">Scheduled jobs</h2>
    <p class="write-only"><button id="jobs-remove-all" type="button" class="write danger">Remove all jobs</button></p>
    <div id="sched-body" class="scroll"></div>
  </section>
  <section id="view-store" class="view" aria-labelledby="h-store" hidden>
    <h2 id="h-store">Store</h2>
    <div id="store-body"></div>
  </section>
</main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
<footer class="muted small"><span id="updated"></span></footer>
</body>
</html>
`

export const APP_CSS: string = String.raw`:root { --fg: #1b1f24; --muted: #57606a; --bg: #fff; --card: #f6f8fa; --line: #d0d7de; --accent: #0a58ca; --ok: #116329; --warn: #7d4e00; --bad: #a40e26; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #1f6feb; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 9; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; padding: 10px 16px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.25rem; margin: 0; } h2 { font-size: 1.15rem; } h3 { font-size: 1rem; margin: .2rem 0 .5rem; }
.muted { color: var(--muted); } .small { font-size: .85rem; margin: 0; }
.badge { margin: 0; padding: 2px 10px; border-radius: 999px; font-weight: 600; background: var(--card); border: 1px solid var(--line); }
.badge.primary { background: #dafbe1; color: var(--ok); border-color: #4ac26b; }
.badge.replica { background: #fff8c5; color: var(--warn); border-color: #d4a72c; }
.banner { padding: 10px 16px; background: #fff8c5; border-bottom: 1px solid #d4a72c; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; margin: 0; padding: 6px 12px; border-bottom: 1px solid var(--line); }
nav a { display: block; padding: 6px 12px; border-radius: 6px; text-decoration: none; }
nav a[aria-current="page"] { background: var(--accent); color: #fff; }
main { padding: 8px 16px 24px; max-width: 1400px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--card); white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards, .cols { display: grid; gap: 12px; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
.card dt { color: var(--muted); } .card dd { margin: 0; overflow-wrap: anywhere; }
label { display: block; font-size: .9rem; margin-top: 6px; } label.inline { display: inline-flex; gap: 6px; align-items: center; margin: 0 12px 0 0; }
input, textarea, select, button { font: inherit; }
input:not([type=checkbox]), textarea, select { width: 100%; padding: 5px 7px; border: 1px solid #8c959f; border-radius: 6px; background: #fff; color: var(--fg); }
label.inline input[type=number] { width: 7em; }
.toolbar { display: flex; flex-wrap: wrap; gap: 12px; } .toolbar label { min-width: 200px; }
.row { display: flex; align-items: center; gap: 8px; margin: 8px 0; } .wrap { flex-wrap: wrap; }
button { padding: 6px 12px; border-radius: 6px; border: 1px solid #8c959f; background: #fff; color: var(--fg); cursor: pointer; }
button:hover { background: var(--card); } button.danger { color: var(--bad); border-color: var(--bad); }
button[disabled] { opacity: .55; cursor: not-allowed; }
#send-btn { margin-top: 10px; background: var(--accent); color: #fff; border-color: var(--accent); }
.warn { color: var(--bad); } ul.warnings { padding-left: 1.2rem; } ul.warnings li { color: var(--bad); }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { border-left: 3px solid var(--accent); padding: 4px 10px; margin: 0 0 8px; }
.steps { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; } .steps span { background: var(--card); border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; font-size: .85rem; }
.spark { vertical-align: middle; } .spark polyline { fill: none; stroke-width: 1.5; }
pre.body { margin: 0; max-width: 40ch; max-height: 6em; overflow: auto; white-space: pre-wrap; font-size: .82rem; }
details summary { cursor: pointer; color: var(--accent); }
.toast { position: fixed; bottom: 12px; right: 12px; max-width: 90vw; }
.toast p { margin: 4px 0 0; padding: 8px 12px; border-radius: 6px; background: #1b1f24; color: #fff; }
.toast p.err { background: var(--bad); }
footer { padding: 8px 16px; }
body.ro .write, body.ro .write-only { display: none; }
#whoami { color: var(--fg); }
@media (max-width: 640px) { main { padding: 6px 8px 20px; } th, td { padding: 4px 5px; } .hide-sm { display: none; } }
`
