import { describe, expect, it } from 'vitest';
import { countdownUrgency, formatCountdown, formatDuration, formatSeconds, initials, previewText, wsUrl } from '../src/shared/format';

describe('display helpers', () => {
  it('previews show the rendered text of a message, not its markup or Markdown', () => {
    expect(previewText('<p><strong>Pricing</strong> for <em>teams</em></p>')).toBe('Pricing for teams');
    expect(previewText('<p>line one<br>line two</p><p>next</p>')).toBe('line one line two next');
    expect(previewText('<p>see <a href="https://x.test" target="_blank" rel="noopener">the docs</a></p>')).toBe('see the docs');
    expect(previewText('<p><img src="https://x.test/a.png" alt="a chart" loading="lazy" class="rich-img"> here</p>')).toBe('a chart here');
    expect(previewText('<p>a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; &#x1F600;</p>')).toBe('a <b> & "c" \'d\' \u{1F600}');
    expect(previewText('<p>5 &lt; 6 &bogus; &#0;</p>')).toBe('5 < 6 &bogus; &#0;');
  });


  it('initials', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('Ada Augusta King Lovelace')).toBe('AL');
    expect(initials('ada')).toBe('A');
    expect(initials('Visitor #x7')).toBe('VX');
    expect(initials('  ')).toBe('?');
    expect(initials(null)).toBe('?');
  });

  it('durations on the live view', () => {
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
    expect(formatDuration(-5)).toBe('0s');
  });

  it('socket URLs follow the page scheme', () => {
    expect(wsUrl('/ws/console', { protocol: 'https:', host: 'chat.acme.test' })).toBe('wss://chat.acme.test/ws/console');
    expect(wsUrl('/ws/console', { protocol: 'http:', host: 'localhost:8000' })).toBe('ws://localhost:8000/ws/console');
  });

  it('countdowns to a reply deadline round up to the second', () => {
    expect(formatCountdown(60_000)).toBe('1:00');
    expect(formatCountdown(59_001)).toBe('1:00');
    expect(formatCountdown(59_000)).toBe('0:59');
    expect(formatCountdown(9_200)).toBe('0:10');
    expect(formatCountdown(65_000)).toBe('1:05');
    expect(formatCountdown(3_723_000)).toBe('1:02:03');
    expect(formatCountdown(0)).toBe('0:00');
    expect(formatCountdown(-4_000)).toBe('0:00');
  });

  it('countdowns turn urgent in the last 15 seconds, then over', () => {
    expect(countdownUrgency(60_000)).toBe('calm');
    expect(countdownUrgency(15_001)).toBe('calm');
    expect(countdownUrgency(15_000)).toBe('urgent');
    expect(countdownUrgency(1)).toBe('urgent');
    expect(countdownUrgency(0)).toBe('over');
  });

  it('report durations', () => {
    expect(formatSeconds(null)).toBe('—');
    expect(formatSeconds(4.25)).toBe('4.3s');
    expect(formatSeconds(14.2)).toBe('14s');
    expect(formatSeconds(125)).toBe('2m 05s');
  });
});
