/* consent-middleware banner: fetch for the form, gated scripts, cookie clean-up */
(() => {
'use strict';
if (window.consentMiddleware) return;
const d = document, B = d.getElementById('consent-banner');
const $ = (s, r) => [...(r || d).querySelectorAll(s)];
const form = B && B.querySelector('form'), inline = B && B.matches('.consent-inline');
let cfg = {}, opener, last;
try { cfg = JSON.parse(d.getElementById('consent-state').textContent); } catch (e) {}
let state = cfg.state || {categories: {}};
const get = () => JSON.parse(JSON.stringify(state));
const allows = n => state.categories[n] === true;
const hit = (e, s) => e.target.closest && e.target.closest(s);
const sync = () => {
  $('input[name=category]', B).forEach(i => { i.checked = allows(i.value); });
  $('[data-consent-close],.consent-settings-link').forEach(e => { e.hidden = !state.decided; });
};
const open = o => {
  if (!B) return;
  if (B.hidden) opener = o || d.activeElement;
  sync();
  B.hidden = false;
  B.querySelector('details').open = true;
  d.getElementById('consent-banner-title').focus();
};
const close = () => {
  if (!B || inline) return;
  const had = B.contains(d.activeElement), o = opener;
  B.hidden = true;
  opener = null;
  if (had) o && o.isConnected && o != d.body ? o.focus() : d.activeElement.blur();
};
const run = () => $('script[type="text/plain"][data-consent-category]').forEach(s => {
  if (!allows(s.dataset.consentCategory)) return;
  const n = d.createElement('script');
  for (const a of s.attributes) if (a.name != 'type') n.setAttribute(a.name, a.value);
  if (s.dataset.consentType) n.type = s.dataset.consentType;
  n.nonce = s.nonce;
  n.async = s.async;
  n.text = s.text;
  s.replaceWith(n);
});
const glob = p => RegExp('^' + p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*')
  .replace(/\?/g, '.').replace(/\[!/g, '[^') + '$');
const purge = () => {
  const rules = (cfg.rules || []).map(r => [glob(r[0]), r[1]]), h = location.hostname.split('.');
  d.cookie.split(';').forEach(c => {
    const n = c.split('=')[0].trim(), r = rules.find(r => r[0].test(n));
    if (!n || !r || allows(r[1])) return;
    const x = n + '=; Max-Age=0; path=/';
    d.cookie = x;
    for (let i = 0; i < h.length - 1; i++) d.cookie = x + '; domain=' + h.slice(i).join('.');
  });
};
const apply = s => {
  state = s;
  sync();
  close();
  run();
  purge();
  const st = d.getElementById('consent-status');
  if (st) {
    st.textContent = '';
    setTimeout(() => { st.textContent = (cfg.texts || {}).saved || ''; }, 99);
  }
  d.dispatchEvent(new CustomEvent('consent:change', {detail: get()}));
};
if (form && !inline) {
  form.addEventListener('click', e => { last = hit(e, '[data-consent-action]') || last; });
  form.addEventListener('submit', e => {
    const b = e.submitter || last, action = b && b.name == 'action' ? b.value : 'save';
    e.preventDefault();
    // not form.action: the buttons named "action" shadow it
    fetch(form.getAttribute('action'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', Accept: 'application/json'},
      body: JSON.stringify({
        action,
        categories: $('input[name=category]:checked', form).map(i => i.value),
        gpc: !!navigator.globalPrivacyControl,
      }),
    }).then(r => r.ok ? r.json() : Promise.reject()).then(apply, () => {
      form.append(Object.assign(d.createElement('input'), {type: 'hidden', name: 'action', value: action}));
      HTMLFormElement.prototype.submit.call(form); // the choice is never lost
    });
  });
}
d.addEventListener('click', e => {
  const o = hit(e, '[data-consent-open]');
  if (o && B) {
    e.preventDefault();
    open(o);
  } else if (hit(e, '[data-consent-close]')) close();
});
d.addEventListener('keydown', e => {
  const o = B && hit(e, '[data-consent-open]'), k = e.key;
  if (k == 'Escape' && state.decided && B && B.contains(e.target)) close();
  else if (o && (k == ' ' || k == 'Enter' && !o.href) && !/^(BUTTON|INPUT|SUMMARY)$/.test(o.tagName)) {
    e.preventDefault();
    open(o);
  }
});
window.consentMiddleware = {get, open: () => open(), close: () => close(), allows};
run();
if (state.decided) purge();
})();
