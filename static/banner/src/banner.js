/* consent-middleware banner: fetch for the form, gated scripts and iframes, Google Consent
   Mode updates, cookie clean-up, the latest choice on every open page of the site. This is the readable source: scripts/build-banner minifies it
   into static/banner/banner.js, which is what the middleware serves. */
(() => {
if (window.consentMiddleware) return;
const d = document;
let B, form, inline; // the banner in the page now (see bind)
const $ = (s, r) => [...(r || d).querySelectorAll(s)];
let cfg = {}, opener, last;
try { cfg = JSON.parse(d.getElementById('consent-state').textContent); } catch (e) {}
let state = cfg.state || {categories: {}};
const key = JSON.stringify, get = () => JSON.parse(key(state));
const allows = n => state.categories[n] === true;
// An element marked data-consent-category="a b": every category named must be granted; an
// empty value names nothing grantable.
const granted = e => (e = e.dataset.consentCategory.match(/\S+/g)) && e.every(allows);
// composedPath, not target.closest: a control inside a web component's (open) shadow root
// is found through the shadow boundary, where the document sees only the host.
const hit = (e, s) => e.composedPath().find(n => n.matches?.(s));
// A transform, filter, will-change or contain on the body (or a wrapper) makes it the
// containing block of our fixed elements: they sit at the foot of the page, out of sight.
// A fixed element has an offsetParent only then: it moves up to <html>, where fixed means
// the viewport again. (A hidden one has none: it moves once shown.)
const lift = () => inline || $('#consent-banner,.consent-settings-link').forEach(e => e.offsetParent && d.documentElement.append(e));
const sync = () => {
  $('input[name=category]', B).forEach(i => i.checked = allows(i.value));
  $('[data-consent-close],.consent-settings-link').forEach(e => e.hidden = !state.decided);
  lift();
};
// Customize: show (or hide) the choices; aria-expanded on its button says which.
const choices = v => {
  $('#consent-choices', B).forEach(c => c.hidden = !v);
  $('[data-consent-customize]', B).forEach(b => b.setAttribute('aria-expanded', v));
};
const open = o => {
  if (!B) return;
  if (B.hidden) opener = o || d.activeElement;
  B.hidden = false;
  choices(true);
  sync();
  d.getElementById('consent-banner-title').focus();
};
const close = () => {
  if (!B || inline) return;
  const had = B.contains(d.activeElement), o = opener;
  B.hidden = true;
  opener = null;
  if (had) o?.isConnected && o != d.body ? o.focus() : d.activeElement.blur();
};
// Trusted Types (`require-trusted-types-for 'script'`) refuse a string as an iframe's srcdoc:
// a policy of ours vouches for what the page itself wrote (a `trusted-types` directive must
// name consent-middleware).
let tt;
try { tt = trustedTypes.createPolicy('consent-middleware', {createHTML: String}); } catch (e) {}
// Scripts held as type="text/plain" (by the page, or by the server with gate_scripts=True)
// start when put back where they are with their own type: a script that has not started
// runs once inserted. The very element the parser made: its text (which Trusted Types
// accept only from the parser or a policy), its src and its nonce are as the page wrote them.
const run = () => $('script[type="text/plain"][data-consent-category]').forEach(s => {
  if (granted(s)) {
    s.type = s.dataset.consentType || ''; // an empty type is JavaScript
    s.parentNode.insertBefore(s, s.nextSibling);
  }
});
// Iframes held with data-consent-src (or -srcdoc) and hidden, after their placeholder.
const frames = () => $('iframe[data-consent-category]').forEach(f => {
  if (!granted(f)) return;
  const p = f.previousElementSibling, had = p?.contains(d.activeElement);
  for (const a of ['srcdoc', 'src']) {
    const v = f.getAttribute('data-consent-' + a);
    if (v != null) {
      f.removeAttribute('data-consent-' + a);
      f.setAttribute(a, tt?.createHTML(v) ?? v); // a policy's HTML reads as its text where src wants a URL
      f.hidden = false;
    }
  }
  if (p?.matches('[data-consent-placeholder]')) {
    p.remove();
    if (had) f.focus(); // the button that had the focus is gone: the frame takes it
  }
});
// Google Consent Mode v2: cfg.gcm maps each consent type to the categories it needs.
const gcm = () => {
  if (!cfg.gcm) return;
  const u = {};
  for (const t in cfg.gcm) u[t] = cfg.gcm[t].every(allows) ? 'granted' : 'denied';
  (window.gtag || function () { (window.dataLayer = window.dataLayer || []).push(arguments); })(
    'consent', 'update', u);
};
// Each rule's pattern comes as the regular expression of its glob (as the server reads it).
const purge = () => d.cookie.split(';').forEach(c => {
  const n = c.split('=')[0].trim(), r = (cfg.rules || []).find(([p]) => RegExp(p).test(n)),
    x = n + '=;max-age=0;path=/', h = location.hostname.split('.');
  if (!n || !r || allows(r[1])) return;
  d.cookie = x;
  // every parent domain (the browser refuses a public suffix, and the bare host's last label)
  h.map((_, i) => d.cookie = x + ';domain=' + h.slice(i).join('.'));
});
// The state this page was made with may be old: the visitor chose in another tab, or on
// another page while this one waited in the back/forward cache, or was prerendered or
// prefetched. Ask the server, and apply its answer if it differs.
const check = () => fetch(cfg.prefix).then(r => r.json())
  .then(s => key(s) != key(state) && apply(s), e => e);
// Every page of the site that is open in this browser hears of a new state (no storage).
// Closed while the page is hidden, since an open channel keeps it out of the bfcache.
let ch;
const tell = () => ch?.postMessage(key(state)), listen = () => {
  (ch = new BroadcastChannel(cfg.prefix)).onmessage = e => e.data != key(state) && check();
  tell(); // a choice made elsewhere (a form that posted, the preferences page) reaches them
};
const apply = s => {
  // more: a category granted that was not (true > false)
  const more = Object.keys(s.categories).some(n => s.categories[n] > allows(n)),
    // What this page runs (scripts released, by us or by the server, and loaded iframes).
    live = $('[data-consent-category]').filter(granted);
  state = s;
  sync();
  close();
  gcm();
  run();
  frames();
  purge();
  const st = d.getElementById('consent-status');
  if (st) {
    st.textContent = '';
    setTimeout(() => st.textContent = cfg.texts?.saved, 99);
  }
  d.dispatchEvent(new CustomEvent('consent:change', {detail: get()}));
  // The server sets the cookies just allowed (HttpOnly ones too) on its next answer: ask for
  // this page again in the background, so they are set without a reload.
  // A script cannot be un-run: a choice that withdraws what this page runs reloads it, and
  // the server sends it back with those scripts held (and expires their cookies).
  if (live.some(e => !granted(e))) location.reload();
  // A choice made while that answer was on its way: ask the server once more, so that it expires
  // what the answer brought for the earlier choice.
  else if (more) fetch(location.href, {headers: {'X-Consent-Refresh': 1}}).then(() => s != state && check(), e => e);
  tell();
};
const checked = () => $('input[name=category]:checked', form).map(i => i.value);
// A choice by fetch; should that fail, the form posts it the old way, so it is never lost.
// One choice at a time, in the order they were made: Reject clicked while Accept is still on
// its way (a slow network) is sent once Accept is answered, and so is the one that counts.
let queue = Promise.resolve();
const send = (action, categories) => queue = queue.then(() => fetch(form.getAttribute('action'), {
  // not form.action: the buttons named "action" shadow it
  method: 'POST',
  headers: {'Content-Type': 'application/json'}, // JSON in, JSON out (the server reads the type)
  body: key({action, categories, gpc: !!navigator.globalPrivacyControl}),
}).then(r => r.ok ? r.json() : Promise.reject()).then(apply, () => {
  $('input[name=category]', form).forEach(i => i.checked = categories.includes(i.value));
  form.append(Object.assign(d.createElement('input'), {type: 'hidden', name: 'action', value: action}));
  form.submit();
}));
// A page that swaps its whole body (hx-boost, Turbo Drive) brings a banner of its own, and
// this script does not run again: the page's banner is found (and its form bound) anew.
const bind = () => {
  if (B?.isConnected) return;
  B = d.getElementById('consent-banner');
  form = B?.querySelector('form');
  inline = B?.matches('.consent-inline');
  if (form && !inline) {
    form.addEventListener('click', e => last = hit(e, 'button[name=action]') || last);
    form.addEventListener('submit', e => {
      const b = e.submitter || last, action = b?.name == 'action' ? b.value : 'save';
      e.preventDefault();
      if (action == 'customize') choices(b.getAttribute('aria-expanded') != 'true');
      else send(action, checked());
    });
  }
};
bind();
// Listened to on the way down (capture): a page that stops clicks or keys from bubbling
// (a menu or modal script, on the body) cannot keep them from us.
d.addEventListener('click', e => {
  bind();
  const o = hit(e, '[data-consent-open]'), a = hit(e, '[data-consent-allow]');
  if (o && B) {
    e.preventDefault();
    open(o);
  } else if (a && form) {
    // "Allow" on a placeholder: what is granted now, plus the placeholder's categories.
    send('save', Object.keys(state.categories).filter(n =>
      allows(n) || a.dataset.consentAllow.split(/\s+/).includes(n)));
  } else if (hit(e, '[data-consent-close]')) close();
}, true);
d.addEventListener('keydown', e => {
  bind();
  const o = hit(e, '[data-consent-open]'), k = e.key;
  if (k == 'Escape' && state.decided && B?.contains(e.target)) close();
  else if (o && B && (k == ' ' || k == 'Enter' && !o.href) && !o.matches('button,input,summary')) {
    e.preventDefault();
    open(o);
  }
}, true);
// Global Privacy Control: say that it is honoured (the server does when it sees Sec-GPC).
if (navigator.globalPrivacyControl && !state.decided) $('.consent-gpc', B).forEach(p => p.hidden = false);
window.consentMiddleware = {get, open, close, allows}; // open(el): focus returns to el
lift();
// Shown on arrival: take the focus to its heading, unless the page gave it to something.
if (B && !B.hidden && !inline && d.activeElement == d.body) {
  d.getElementById('consent-banner-title').focus({preventScroll: true});
}
run();
frames();
// Undecided counts as refused: a tag's cookies from before a new policy version go too.
purge();
if (self.BroadcastChannel) {
  listen();
  addEventListener('pagehide', () => ch.close());
}
// Back from the back/forward cache, or made ahead by Speculation Rules: its scripts may run
// under an old choice (a choice that withdraws them reloads it).
addEventListener('pageshow', e => e.persisted && (ch && listen(), check()));
performance.getEntriesByType('navigation')[0]?.deliveryType && check();
})();
