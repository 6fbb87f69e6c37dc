/**
 * The console page's JavaScript, embedded as a string so the single binary serves it offline (#18). Edited here
 * directly: plain ES2017 without a build step or a library (a hyperscript helper, hash routing, polling). Keep it
 * ASCII (\u escapes) and free of backticks and dollar-brace: it lives in a String.raw template, and the bundler
 * rewrites non-ASCII characters in templates as escapes.
 */

export const APP_JS: string = String.raw`// sfbroker console: plain DOM, no framework. Polls the JSON API (/api/...) every POLL_MS; writes carry the CSRF token.
'use strict'
var POLL_MS = 2000
var PAGE = 25
var S = { node: null, group: null, tab: 'group', queue: null, offset: 0, selected: new Set(), lastBrowse: null, busy: false }

function $(id) { return document.getElementById(id) }
function h(tag, attrs, kids) {
  var e = document.createElement(tag)
  if (attrs) for (var k in attrs) {
    var v = attrs[k]
    if (v === null || v === undefined || v === false) continue
    if (k === 'text') e.textContent = v
    else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v)
    else e.setAttribute(k, v === true ? '' : String(v))
  }
  if (kids) for (var i = 0; i < kids.length; i++) { var c = kids[i]; if (c === null || c === undefined || c === false) continue; e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c))) }
  return e
}
function fill(el, kids) { el.replaceChildren.apply(el, kids.filter(function (k) { return k !== null && k !== undefined && k !== false })) }
function fmtBytes(n) { if (n == null) return '-'; var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0; while (n >= 1024 && i < 4) { n /= 1024; i++ } return (i ? n.toFixed(1) : n) + ' ' + u[i] }
function fmtAgo(ms) { if (ms == null) return '-'; if (ms < 10000) return ms + ' ms ago'; if (ms < 120000) return Math.round(ms / 1000) + ' s ago'; return Math.round(ms / 60000) + ' min ago' }
function fmtTime(t) { return t ? new Date(t).toLocaleString() : '-' }
function fmtDur(ms) { var s = Math.floor(ms / 1000); if (s < 120) return s + ' s'; if (s < 7200) return Math.floor(s / 60) + ' min'; return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min' }
function rate(x) { return x >= 10 ? x.toFixed(0) : x.toFixed(1) }

function toast(msg, err) {
  var p = h('p', { class: err ? 'err' : '', text: msg })
  $('toast').appendChild(p)
  setTimeout(function () { p.remove() }, err ? 8000 : 4000)
}

function api(method, path, body) {
  var opts = { method: method, headers: { accept: 'application/json' }, credentials: 'same-origin' }
  if (method !== 'GET') {
    opts.headers['content-type'] = 'application/json'
    if (S.node) opts.headers[S.node.csrfHeader] = S.node.csrfToken
    opts.body = JSON.stringify(body || {})
  }
  return fetch(path, opts).then(function (r) {
    return r.json().catch(function () { return {} }).then(function (j) {
      if (!r.ok) { var e = new Error(j.error || ('HTTP ' + r.status)); e.code = j.code; e.status = r.status; throw e }
      return j
    })
  })
}
function enc(name) { return encodeURIComponent(name) }
function write(method, path, body, done) {
  return api(method, path, body).then(function (j) { if (done) toast(done(j)); refresh() }, function (e) { toast(e.message, true) })
}

function spark(values, label, color) {
  var W = 80, H = 20, NS = 'http://www.w3.org/2000/svg'
  var svg = document.createElementNS(NS, 'svg')
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('class', 'spark'); svg.setAttribute('role', 'img')
  var last = values.length ? values[values.length - 1] : 0
  svg.setAttribute('aria-label', label + ': ' + rate(last) + ' per second now, last minute')
  var max = Math.max.apply(null, values.concat([1]))
  var pts = values.map(function (v, i) { return (values.length < 2 ? W : i * W / (values.length - 1)).toFixed(1) + ',' + (H - 1 - v / max * (H - 2)).toFixed(1) })
  if (pts.length === 1) pts.unshift('0,' + pts[0].split(',')[1])
  var pl = document.createElementNS(NS, 'polyline')
  pl.setAttribute('points', pts.join(' ')); pl.setAttribute('stroke', color)
  svg.appendChild(pl)
  return h('span', null, [svg, ' ' + rate(last) + '/s'])
}

function table(caption, heads, rows) {
  return h('table', null, [
    caption ? h('caption', { text: caption }) : null,
    h('thead', null, [h('tr', null, heads.map(function (x) { return h('th', { scope: 'col', class: /^(depth|enq|deq|cons|mem|bytes|pre|in-fl|size|#)/i.test(x) ? 'num' : null, text: x }) }))]),
    h('tbody', null, rows),
  ])
}
function td(v, cls) { return h('td', { class: cls || null }, [v]) }
function num(v) { return h('td', { class: 'num', text: v == null ? '-' : String(v) }) }

// ---- header, banner, access

function renderHeader() {
  var n = S.node, g = S.group
  if (!n) return
  $('node-name').textContent = n.brokerName + ' \u00b7 ' + n.nodeId
  var b = $('role-badge')
  b.textContent = n.role === 'primary' ? 'primary (epoch ' + n.epoch + ')' : n.role
  b.className = 'badge ' + (n.role === 'primary' ? 'primary' : n.role === 'replica' ? 'replica' : '')
  var a = n.auth || {}
  if (a.enabled) fill($('access'), ['signed in as ', h('strong', { id: 'whoami', text: a.user }), n.writable ? ' \u00b7 read and write' : ' \u00b7 read-only (changes need a user of ' + (a.adminGroups || []).join(', ') + ')'])
  else $('access').textContent = n.writable ? 'writable, no login (no authentication plugin: keep the admin listener private)' : 'read-only (start with --admin-writable to allow changes)'
  $('access').setAttribute('data-role', n.writable ? 'admin' : 'read-only')
  // A read-only caller never gets write controls: hidden, not just disabled (a replica's are disabled instead).
  document.body.classList.toggle('ro', !n.writable)
  var writable = n.writable && n.serving
  document.querySelectorAll('button.write').forEach(function (x) { x.disabled = !writable; x.title = writable ? '' : (n.writable ? 'only the serving primary can change state' : 'this console is read-only') })
  var ban = $('replica-banner')
  if (n.role !== 'primary') {
    var link = g && g.primaryConsole
    fill(ban, ['This node is a ' + n.role + ': it shows the group from the shared directory but serves no clients. ',
      link ? h('a', { href: link, id: 'primary-link', text: 'Open the primary\u2019s console' }) : (g && g.primary ? 'The primary has not published its console address.' : 'No primary holds the lock right now.')])
    ban.hidden = false
  } else ban.hidden = true
}

// ---- group

function probeText(p) {
  if (!p) return 'no saved verdict (run sfbroker probe-lock on the shared directory)'
  return p.verdict + (p.recommended ? ', use ' + p.recommended : '') + ' \u2014 ' + p.kinds.map(function (k) { return k.kind + ' ' + k.verdict }).join(', ') +
    '; run on ' + p.host + ' ' + fmtAgo(p.ageMs) + (p.peer ? ' with --peer ' + (p.peer.host || '(no peer)') : '')
}

function renderGroup() {
  var g = S.group, out = []
  if (!g) return
  if (g.error) out.push(h('p', { class: 'warn', text: g.error }))
  var hd = g.holder
  out.push(h('div', { class: 'cards' }, [
    h('div', { class: 'card', id: 'primary-card' }, [h('h3', { text: 'Primary' }), hd ? h('dl', null, [
      h('dt', { text: 'node' }), h('dd', { id: 'primary-node', text: hd.nodeId + (g.primary ? '' : ' (last holder; lock not held)') }),
      h('dt', { text: 'host, pid' }), h('dd', { text: hd.host + ', pid ' + hd.pid }),
      h('dt', { text: 'epoch' }), h('dd', { text: String(hd.epoch) }),
      h('dt', { text: 'up since' }), h('dd', { text: fmtTime(hd.acquiredAt) + ' (' + fmtDur(g.now - hd.acquiredAt) + ')' }),
      h('dt', { text: 'renewed' }), h('dd', { text: fmtAgo(g.renewedAgoMs) }),
      h('dt', { text: 'connectors' }), h('dd', { text: (hd.connectors || []).join(', ') || '-' }),
      h('dt', { text: 'console' }), h('dd', null, [g.consoles && g.consoles[hd.nodeId] ? h('a', { href: g.consoles[hd.nodeId], text: g.consoles[hd.nodeId] }) : '-']),
    ]) : h('p', { text: 'No primary has held the lock yet.' })]),
    h('div', { class: 'card' }, [h('h3', { text: 'Shared directory' }), h('dl', null, [
      h('dt', { text: 'path' }), h('dd', { text: g.directory }),
      h('dt', { text: 'filesystem' }), h('dd', { text: g.filesystem ? g.filesystem.fsType + ' on ' + g.filesystem.mountPoint : '-' }),
      h('dt', { text: 'lock' }), h('dd', { text: (g.primary ? 'held' : g.lockFile.held === null ? 'unknown' : 'not held') + ' (' + g.lockFile.method + ')' }),
      h('dt', { text: 'current epoch' }), h('dd', { text: String(g.currentEpoch) }),
      h('dt', { text: 'probe-lock' }), h('dd', { id: 'probe-lock', 'data-verdict': g.probeLock ? g.probeLock.verdict : null, class: g.probeLock && g.probeLock.verdict === 'NOT SAFE' ? 'warn' : null, text: probeText(g.probeLock) }),
    ])]),
  ]))
  out.push(h('h3', { text: 'Replicas' }))
  out.push(g.replicas.length ? h('div', { class: 'scroll' }, [table(null, ['node', 'host', 'pid', 'waiting since', 'heartbeat', 'console'], g.replicas.map(function (r) {
    return h('tr', { 'data-node': r.nodeId }, [td(r.nodeId + (r.preferred ? ' (preferred)' : '')), td(r.host), num(r.pid), td(fmtTime(r.since)), td(fmtAgo(r.ageMs) + (r.fresh ? '' : ' \u2014 STALE'), r.fresh ? null : 'warn'),
      td(g.consoles && g.consoles[r.nodeId] ? h('a', { href: g.consoles[r.nodeId], text: 'open' }) : '-')])
  }))]) : h('p', { id: 'no-replicas', class: 'muted', text: 'No replica registered.' }))
  out.push(h('h3', { text: 'Warnings' }))
  out.push(g.warnings.length ? h('ul', { class: 'warnings', id: 'warnings' }, g.warnings.map(function (w) { return h('li', { text: w }) })) : h('p', { class: 'muted', text: 'None.' }))
  out.push(h('h3', { text: 'Takeovers' }))
  var tk = (g.takeovers || []).slice(-10).reverse()
  out.push(tk.length ? h('ol', { class: 'timeline', id: 'timeline' }, tk.map(function (t) {
    var step = function (name, ms) { return h('span', { text: name + (ms == null ? ' \u2013' : ' +' + ms + ' ms') }) }
    return h('li', { 'data-epoch': t.epoch }, [
      h('strong', { text: 'epoch ' + t.epoch + ': ' + t.nodeId }), ' on ' + t.host + ', ' + fmtTime(t.lockAcquiredAt) + (t.previousHolder ? ', from ' + t.previousHolder : ''),
      h('div', { class: 'steps', 'aria-label': 'takeover steps' }, [step('lock', 0), step('epoch', t.epochClaimedMs), step('store', t.storeRecoveredMs), step('connectors', t.connectorsOpenMs), h('span', { text: t.connectorsOpenMs == null ? 'not serving' : 'serving' })]),
    ])
  })) : h('p', { class: 'muted', text: 'No takeover recorded.' }))
  fill($('group-body'), out)
}

// ---- destinations

function renderDestinations(d) {
  var f = $('dest-filter').value.trim().toLowerCase(), key = $('dest-sort').value
  var list = d.destinations.filter(function (x) { return !f || x.destination.toLowerCase().indexOf(f) >= 0 })
  list.sort(function (a, b) { return key === 'destination' ? (a.destination < b.destination ? -1 : 1) : (b[key] - a[key]) })
  $('dest-summary').textContent = d.destinations.length + ' destinations, memory ' + fmtBytes(d.memoryBytes) + ' of ' + fmtBytes(d.memoryLimitBytes) + '; rates over the last minute'
  fill($('dest-body'), [table(null, ['destination', 'kind', 'depth', 'enqueued', 'dequeued', 'consumers', 'memory', 'in', 'out'], list.map(function (x) {
    var isQ = x.kind === 'queue' || x.kind === 'temp-queue'
    return h('tr', { 'data-dest': x.destination }, [
      td(isQ ? h('a', { href: '#queue/' + enc(x.destination), text: x.destination }) : x.destination), td(x.kind), num(x.depth), num(x.enqueued), num(x.dequeued), num(x.consumers), num(fmtBytes(x.memoryBytes)),
      td(spark(x.rates.enqueue, 'in', '#0a58ca')), td(spark(x.rates.dequeue, 'out', '#116329')),
    ])
  }))])
}

// ---- queue

function headerLines(text) {
  var out = {}
  text.split('\n').forEach(function (l) { var i = l.indexOf(':'); if (i > 0) out[l.slice(0, i).trim()] = l.slice(i + 1).trim() })
  return out
}
function renderQueue(b) {
  S.lastBrowse = b
  $('h-queue').textContent = 'Queue ' + b.destination
  $('queue-summary').textContent = b.depth + ' messages (' + b.inflight + ' delivered, awaiting ack, not listed); ' + S.selected.size + ' selected'
  var first = b.messages.length ? b.offset + 1 : 0
  $('page-info').textContent = b.messages.length ? 'messages ' + first + '\u2013' + (b.offset + b.messages.length) : 'no waiting messages here'
  $('page-prev').disabled = b.offset === 0
  $('page-next').disabled = !b.more
  fill($('queue-body'), [table(null, ['select', 'message id', 'properties', 'body', 'size', 'prio', ''], b.messages.map(function (m) {
    var cb = h('input', { type: 'checkbox', 'aria-label': 'select ' + m.id, checked: S.selected.has(m.id), onchange: function (ev) { if (ev.target.checked) S.selected.add(m.id); else S.selected.delete(m.id); $('queue-summary').textContent = b.depth + ' messages; ' + S.selected.size + ' selected' } })
    var props = Object.keys(m.headers).filter(function (k) { return k !== 'destination' && k !== 'message-id' }).map(function (k) { return k + ': ' + m.headers[k] }).join('\n')
    return h('tr', { 'data-id': m.id }, [
      td(cb), td(h('code', { text: m.id })), td(h('details', null, [h('summary', { text: Object.keys(m.headers).length + ' headers' + (m.persistent ? ', persistent' : '') + (m.redelivered ? ', redelivered' : '') }), h('pre', { class: 'body', text: props })])),
      td(h('pre', { class: 'body', text: m.bodyPreview + (m.bodyTruncated ? ' \u2026' : '') + (m.bodyBinary ? ' (hex)' : '') })), num(fmtBytes(m.bodyBytes)), num(m.priority),
      td(h('button', { type: 'button', class: 'write', 'aria-label': 'delete message ' + m.id, text: 'Delete', disabled: !(S.node && S.node.writable && S.node.serving), onclick: function () {
        if (!confirm('Delete message ' + m.id + '?')) return
        S.selected.delete(m.id)
        write('DELETE', '/api/destinations/' + enc(S.queue) + '/messages/' + enc(m.id), null, function () { return 'deleted ' + m.id })
      } })),
    ])
  }))])
}
function moveSel(copy, all) {
  var to = $('move-to').value.trim()
  if (!to) { toast('Name the target queue first', true); $('move-to').focus(); return }
  if (to.indexOf('/') !== 0) to = '/queue/' + to
  var ids = all ? null : Array.from(S.selected)
  if (!all && !ids.length) { toast('Select messages first', true); return }
  if (all && !confirm('Move every waiting message of ' + S.queue + ' to ' + to + '?')) return
  write('POST', '/api/destinations/' + enc(S.queue) + '/move', { to: to, ids: ids, copy: copy }, function (j) { S.selected.clear(); return copy ? 'copied ' + j.copied + ' to ' + to : 'moved ' + j.moved + ' to ' + to })
}

// ---- connections, scheduler, store

function connectionCounts(d) {
  var parts = (d.counts || []).map(function (c) {
    var split = ['stomp', 'mqtt', 'openwire'].filter(function (p) { return c[p] > 0 }).map(function (p) { return p + ' ' + c[p] })
    return c.name + ' (' + c.transport + '): ' + (split.length ? split.join(', ') : 'none')
  })
  return h('p', { class: 'muted', 'data-counts': '1', text: 'Connections by connector and protocol: ' + (parts.join('; ') || 'no connector') })
}
function renderConnections(d) {
  if (!d.connections.length) return fill($('conn-body'), [connectionCounts(d), h('p', { class: 'muted', text: 'No client connected.' })])
  fill($('conn-body'), [connectionCounts(d), table(null, ['session', 'client id', 'protocol', 'remote address', 'user', 'connected', 'subscriptions', ''], d.connections.map(function (c) {
    var subs = c.subscriptions.length ? h('ul', null, c.subscriptions.map(function (s) { return h('li', { text: s.browser ? s.id + ': browser' : s.id + ' \u2192 ' + s.destination + ' (ack ' + s.ack + ', prefetch ' + s.prefetch + ', in flight ' + s.inflight + (s.selector ? ', selector' : '') + ')' }) })) : '-'
    return h('tr', { 'data-session': c.sessionId }, [td(c.sessionId), td(c.clientId || '-'), td(c.protocol + (c.protocolVersion ? ' ' + c.protocolVersion : '')), td(c.remoteAddress), td(c.login || '-'), td(fmtTime(c.connectedAt)), td(subs),
      td(c.closable ? h('button', { type: 'button', class: 'write danger', text: 'Close', 'aria-label': 'close connection ' + c.sessionId, disabled: !(S.node.writable && S.node.serving), onclick: function () {
        if (confirm('Close connection ' + c.sessionId + '? The client gets an ERROR frame.')) write('DELETE', '/api/connections/' + enc(c.sessionId), null, function () { return 'closed ' + c.sessionId })
      } }) : '')])
  }))])
}
function fmtIn(ms) { if (ms <= 0) return 'due now'; if (ms < 120000) return 'in ' + Math.ceil(ms / 1000) + ' s'; if (ms < 7200000) return 'in ' + Math.round(ms / 60000) + ' min'; return 'in ' + fmtDur(ms) }
function renderScheduler(d) {
  if (d.disabled) return fill($('sched-body'), [h('p', { class: 'muted', text: 'The scheduler is not enabled on this broker (schedulerSupport).' })])
  fill($('sched-body'), [h('p', { id: 'sched-summary', class: 'muted', text: d.total + ' jobs; next due ' + fmtTime(d.nextDueAt) + (d.jobs.length < d.total ? '; the first ' + d.jobs.length + ' shown' : '') }), d.jobs.length ? table(null, ['#', 'job id', 'destination', 'next due', 'delay', 'period', 'repeats left', 'cron', 'size', ''], d.jobs.map(function (j, i) {
    return h('tr', { 'data-job': j.id }, [num(i + 1), td(h('code', { text: j.id })), td(j.destination), h('td', { class: 'next-due', 'data-due': j.nextDueAt, text: fmtTime(j.nextDueAt) + ' (' + fmtIn(j.nextDueAt - d.now) + ')' }), num(j.delayMs), num(j.periodMs), num(j.repeat + ' of ' + j.repeatTotal), td(j.cron || '-'), num(fmtBytes(j.bodyBytes)),
      td(h('button', { type: 'button', class: 'write', text: 'Remove', 'aria-label': 'remove job ' + j.id, disabled: !(S.node.writable && S.node.serving), onclick: function () { write('DELETE', '/api/scheduler/jobs/' + enc(j.id), null, function () { return 'removed job ' + j.id }) } }))])
  })) : null])
}
function integrity(it) {
  if (!it) return 'not reported'
  return (it.corruptCount ? it.corruptCount + ' corrupt record(s)' : 'no corrupt records') + (it.tornTail ? ', torn tail cut at recovery' : '') + (it.fencedRecordsIgnored ? ', ' + it.fencedRecordsIgnored + ' fenced record(s) ignored' : '') + ' (verification ' + it.verification + ')'
}
function renderStore(d) {
  var live = d.live, sum = d.summary
  fill($('store-body'), [h('div', { class: 'cards' }, [
    h('div', { class: 'card' }, [h('h3', { text: 'Store' }), h('dl', null, [
      h('dt', { text: 'adapter' }), h('dd', { id: 'store-adapter', text: d.adapter }),
      h('dt', { text: 'size' }), h('dd', { text: fmtBytes(live ? live.bytes : sum && sum.bytes) }),
      h('dt', { text: 'messages' }), h('dd', { text: String(live ? live.messages : sum ? sum.messages : '-') }),
      h('dt', { text: 'files' }), h('dd', { text: live ? String(d.files.length) : 'shown on the primary' }),
      h('dt', { text: 'last write' }), h('dd', { text: fmtTime(d.lastWriteAt) }),
      h('dt', { text: 'summary' }), h('dd', { text: sum ? 'written ' + fmtAgo(sum.ageMs) : 'none yet' }),
      h('dt', { text: 'integrity' }), h('dd', { text: integrity(live ? live.integrity : sum && sum.integrity && sum.integrity.store) }),
      h('dt', { text: 'scheduler' }), h('dd', { text: d.scheduler ? d.scheduler.jobs + ' jobs' : sum && sum.scheduler ? sum.scheduler.jobs + ' jobs' : 'off' }),
    ])]),
  ]), d.warnings.length ? h('ul', { class: 'warnings' }, d.warnings.map(function (w) { return h('li', { text: w }) })) : null,
  d.files.length ? h('div', { class: 'scroll' }, [table('Files (largest first)', ['file', 'size', 'modified'], d.files.map(function (f) { return h('tr', null, [td(f.name), num(fmtBytes(f.bytes)), td(fmtTime(f.modifiedAt))]) }))]) : null])
}

// ---- routing and polling

function notPrimary(el) { fill(el, [h('p', { class: 'muted', text: 'Only the serving primary has destinations, connections and jobs. ' }, [S.group && S.group.primaryConsole ? h('a', { href: S.group.primaryConsole, text: 'Open the primary\u2019s console.' }) : null])]) }

function route() {
  var hash = location.hash.slice(1) || 'group'
  var tab = hash, q = null
  if (hash.indexOf('queue/') === 0) { tab = 'queue'; q = decodeURIComponent(hash.slice(6)) }
  if (['group', 'destinations', 'queue', 'connections', 'scheduler', 'store'].indexOf(tab) < 0) tab = 'group'
  if (q !== S.queue) { S.queue = q; S.offset = 0; S.selected.clear(); fill($('queue-body'), []); if (q) $('send-dest').value = q }
  S.tab = tab
  document.querySelectorAll('.view').forEach(function (v) { v.hidden = v.id !== 'view-' + tab })
  document.querySelectorAll('#tabs a').forEach(function (a) { var on = a.getAttribute('data-tab') === (tab === 'queue' ? 'destinations' : tab); if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current') })
  refresh()
}

var timer = null
function refresh() {
  if (timer) clearTimeout(timer)
  if (S.busy) { timer = setTimeout(refresh, 300); return }
  S.busy = true
  var tab = S.tab
  var jobs = [api('GET', '/api/node').then(function (n) { S.node = n }), api('GET', '/api/group').then(function (g) { S.group = g })]
  Promise.all(jobs).then(function () {
    renderHeader()
    var serving = S.node.serving
    if (tab === 'group') return renderGroup()
    if (tab === 'store') return api('GET', '/api/store').then(renderStore)
    var el = { destinations: $('dest-body'), queue: $('queue-body'), connections: $('conn-body'), scheduler: $('sched-body') }[tab]
    if (!serving) return notPrimary(el)
    if (tab === 'destinations') return api('GET', '/api/destinations').then(renderDestinations)
    if (tab === 'queue' && S.queue) return api('GET', '/api/destinations/' + enc(S.queue) + '/messages?offset=' + S.offset + '&limit=' + PAGE).then(renderQueue)
    if (tab === 'connections') return api('GET', '/api/connections').then(renderConnections)
    if (tab === 'scheduler') return api('GET', '/api/scheduler').then(renderScheduler)
  }).then(function () {
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString()
  }, function (e) {
    $('role-badge').textContent = 'unreachable'
    $('role-badge').className = 'badge'
    $('updated').textContent = 'last attempt ' + new Date().toLocaleTimeString() + ': ' + e.message
  }).then(function () {
    S.busy = false
    timer = setTimeout(refresh, document.hidden ? POLL_MS * 5 : POLL_MS)
  })
}

document.addEventListener('DOMContentLoaded', function () {
  window.addEventListener('hashchange', route)
  $('dest-filter').addEventListener('input', refresh)
  $('dest-sort').addEventListener('change', refresh)
  $('send-form').addEventListener('submit', function (ev) {
    ev.preventDefault()
    var dest = $('send-dest').value.trim()
    var delay = Number($('send-delay').value || 0)
    write('POST', '/api/destinations/' + enc(dest) + '/messages', { body: $('send-body').value, headers: headerLines($('send-headers').value), persistent: $('send-persistent').checked, delayMs: delay }, function () { return 'sent to ' + dest + (delay ? ' (due in ' + delay + ' ms)' : '') })
  })
  $('move-selected').addEventListener('click', function () { moveSel(false, false) })
  $('copy-selected').addEventListener('click', function () { moveSel(true, false) })
  $('move-all').addEventListener('click', function () { moveSel(false, true) })
  $('delete-selected').addEventListener('click', function () {
    var ids = Array.from(S.selected)
    if (!ids.length) { toast('Select messages first', true); return }
    if (!confirm('Delete ' + ids.length + ' message(s)?')) return
    Promise.all(ids.map(function (id) { return api('DELETE', '/api/destinations/' + enc(S.queue) + '/messages/' + enc(id)).catch(function (e) { return e }) })).then(function (rs) {
      S.selected.clear(); toast('deleted ' + rs.filter(function (r) { return !(r instanceof Error) }).length + ' message(s)'); refresh()
    })
  })
  $('purge-btn').addEventListener('click', function () { if (confirm('Delete every waiting message of ' + S.queue + '?')) write('POST', '/api/destinations/' + enc(S.queue) + '/purge', null, function (j) { S.selected.clear(); return 'purged ' + j.purged + ' message(s)' }) })
  $('delete-dest-btn').addEventListener('click', function () { if (confirm('Delete queue ' + S.queue + '? Only an empty queue without consumers can be deleted.')) write('DELETE', '/api/destinations/' + enc(S.queue), null, function () { location.hash = '#destinations'; return 'deleted ' + S.queue }) })
  $('jobs-remove-all').addEventListener('click', function () { if (confirm('Remove every scheduled job?')) write('DELETE', '/api/scheduler/jobs', null, function () { return 'removed all jobs' }) })
  $('page-prev').addEventListener('click', function () { S.offset = Math.max(0, S.offset - PAGE); refresh() })
  $('page-next').addEventListener('click', function () { S.offset += PAGE; refresh() })
  document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh() })
  route()
})
`
