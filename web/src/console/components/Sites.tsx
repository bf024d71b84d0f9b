/** Sites (admin): each site's key, allowed origins, and the embed snippet to paste. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api, type Site } from '../api';
import { Icon } from './ui';

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  };
  return (
    <button type="button" class="btn btn-secondary btn-sm" onClick={() => void copy()} data-testid="copy-snippet">
      <Icon name={copied ? 'check' : 'copy'} size={15} /> {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

export function Sites({ api }: { api: Api }) {
  const [sites, setSites] = useState<Site[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.sites().then(setSites, (e: unknown) => setError(e instanceof ApiError ? e.detail : 'Could not load sites.'));
  }, [api]);

  if (error) return <p class="form-error" role="alert">{error}</p>;
  if (!sites) return <p class="muted">Loading sites…</p>;
  if (sites.length === 0) return <div class="empty"><p class="empty-title">No sites yet</p></div>;
  return (
    <div class="stack" data-testid="sites">
      {sites.map((site) => (
        <section class="panel" key={site.id} data-testid="site" aria-labelledby={`site-${site.id}`}>
          <div class="panel-head">
            <div>
              <h2 id={`site-${site.id}`} class="panel-title">{site.name}</h2>
              <p class="panel-sub">
                Site key <code class="inline-code">{site.site_key}</code>
              </p>
            </div>
          </div>
          <dl class="facts">
            <dt>Allowed origins</dt>
            <dd>
              {site.allowed_origins.length ? (
                site.allowed_origins.map((o) => (
                  <span class="pill" key={o}>
                    {o}
                  </span>
                ))
              ) : (
                <span class="muted">Any origin</span>
              )}
            </dd>
          </dl>
          <div class="snippet">
            <div class="snippet-head">
              <span>Embed snippet — paste before &lt;/body&gt; on every page</span>
              <CopyButton text={site.snippet} />
            </div>
            <pre class="code" data-testid="site-snippet">
              <code>{site.snippet}</code>
            </pre>
          </div>
        </section>
      ))}
    </div>
  );
}
