/** Server-rendered message HTML (the protocol's `html` field), the only markup ever inserted. */
import { useLayoutEffect, useRef } from 'preact/hooks';
import { enhanceRichText, openRichImage } from './richtext';

export function RichText(props: { html: string; class?: string; openImageLabel: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    if (ref.current) enhanceRichText(ref.current, props.openImageLabel);
  }, [props.html, props.openImageLabel]);
  return (
    <div
      ref={ref}
      class={props.class}
      onClick={openRichImage}
      onKeyDown={openRichImage}
      // Sanitised server-side (markdown-it with HTML off, then nh3): see docs/protocol.md.
      dangerouslySetInnerHTML={{ __html: props.html }}
    />
  );
}
