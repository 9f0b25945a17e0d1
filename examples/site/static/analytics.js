/* Integrica's stand-in analytics tag (no network, no cookie): it records a page view in the
   dataLayer, as Google's tag does. The page loads it as
   <script data-consent-category="analytics" src="/static/analytics.js"> without
   type="text/plain": with gate_scripts=True the middleware makes it inert for visitors who have
   not granted analytics, and banner.js runs it once they do, without a reload. */
(function () {
  var gtag = window.gtag || function () {
    (window.dataLayer = window.dataLayer || []).push(arguments);
  };
  gtag("event", "page_view", { page_path: location.pathname, page_title: document.title });
  window.integricaAnalytics = (window.integricaAnalytics || 0) + 1;
})();
