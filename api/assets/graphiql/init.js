// Mounts GraphiQL on #graphiql. Loaded by index.html after React, ReactDOM and
// GraphiQL (UMD globals). Kept out of the page so the CSP needs no inline script.
(function () {
  'use strict';

  // This script is served from <prefix>/graphiql/init.js; the GraphQL
  // endpoint is <prefix>/graphql. Deriving it from the script's own URL keeps
  // it right behind a reverse-proxy path prefix, whatever URL the page has.
  var script = document.currentScript;
  var base = script && script.src ? script.src : new URL('graphiql/', document.baseURI).href;
  var endpoint = new URL('../graphql', base).href;

  var defaultQuery = [
    '# ESS Open Data: cooperatives counted by region.',
    '# Press the run button (or Ctrl-Enter) to execute.',
    '{',
    '  aggregate(groupBy: [REGION], filter: {family: [COOPERATIVE]}) {',
    '    rows {',
    '      region { code name }',
    '      organisations',
    '      members',
    '      membersWomen',
    '    }',
    '    snapshot { id createdAt }',
    '  }',
    '}',
    ''
  ].join('\n');

  var fetcher = GraphiQL.createFetcher({ url: endpoint });

  // Full-window layout, set through the CSSOM rather than a <style> element
  // so that the page itself needs no 'unsafe-inline' in style-src.
  var container = document.getElementById('graphiql');
  document.body.style.margin = '0';
  container.style.height = '100vh';

  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      shouldPersistHeaders: false
    })
  );
})();
