/** Home: a glance at what needs me (alerts, my conversations) and who is around. */
import { previewText } from '../../shared/format';
import { chatHref } from '../router';
import { myConversations, replyDeadlines, unreadIn, visitorInfo, visitorLabel, type ConsoleState } from '../state';
import { Avatar, Countdown, Icon } from './ui';

function greeting(): string {
  const h = new Date().getHours();
  return h < 12 ? 'Good morning' : h < 18 ? 'Good afternoon' : 'Good evening';
}

export function Home({ s }: { s: ConsoleState }) {
  const mine = myConversations(s);
  const waiting = s.alerts.filter((a) => !a.takenBy).length;
  const online = Object.keys(s.visitors).length;
  const repsAvailable = Object.values(s.reps).filter((r) => r.online && r.availability === 'available').length;
  const deadlines = replyDeadlines(s);
  return (
    <div class="stack">
      {deadlines.length ? (
        <section class="panel panel-urgent" aria-labelledby="home-replies" data-testid="reply-timers">
          <div class="panel-head">
            <div>
              <h2 id="home-replies" class="panel-title">
                <Icon name="bolt" size={16} /> Visitors answered your auto pounce
              </h2>
              <p class="panel-sub">Reply, or mark the conversation Spam or No response needed, before the timer runs out.</p>
            </div>
          </div>
          <ul class="rows">
            {deadlines.map(({ alert }) => {
              const name = visitorLabel(alert.visitor);
              return (
                <li key={alert.conversation.id}>
                  <a class="row-link" href={chatHref(alert.conversation.visitor_id, alert.conversation.id)}>
                    <Avatar name={name} tone="visitor" size={34} />
                    <span class="row-main">
                      <strong>{name}</strong>
                      <span class="muted ellipsis">{alert.message ? previewText(alert.message.html) : ''}</span>
                    </span>
                    <Countdown deadline={alert.deadline} testid="home-countdown" />
                    <span class="btn btn-primary btn-sm">Reply</span>
                  </a>
                </li>
              );
            })}
          </ul>
        </section>
      ) : null}
      <div class="hero">
        <h2>
          {greeting()}, {s.me?.first_name ?? ''}
        </h2>
        <p>
          {s.me?.availability === 'available'
            ? 'You are available: new chats can be routed to you.'
            : 'You are away: no new chats will be routed to you. Switch to Available when you are ready.'}
        </p>
      </div>
      <div class="stats">
        <a class="stat" href="#/live">
          <span class="stat-value">{online}</span>
          <span class="stat-label">Visitors online</span>
        </a>
        <div class="stat">
          <span class="stat-value">{waiting}</span>
          <span class="stat-label">New chats for you</span>
        </div>
        <div class="stat">
          <span class="stat-value">{mine.length}</span>
          <span class="stat-label">My open conversations</span>
        </div>
        <div class="stat">
          <span class="stat-value">{repsAvailable}</span>
          <span class="stat-label">Reps available</span>
        </div>
      </div>
      <section class="panel" aria-labelledby="home-convos">
        <div class="panel-head">
          <h2 id="home-convos" class="panel-title">My open conversations</h2>
        </div>
        {mine.length === 0 ? (
          <div class="empty">
            <p class="empty-title">All caught up</p>
            <p>When a visitor writes in, an alert appears on the right. Open it and start the conversation.</p>
          </div>
        ) : (
          <ul class="rows">
            {mine.map((c) => {
              const name = visitorLabel(visitorInfo(s, c.visitor_id), c.visitor_id);
              const msgs = s.log[c.id];
              const last = msgs && msgs.length ? msgs[msgs.length - 1]! : null;
              return (
                <li key={c.id}>
                  <a class="row-link" href={chatHref(c.visitor_id, c.id)}>
                    <Avatar name={name} tone="visitor" size={34} />
                    <span class="row-main">
                      <strong>{name}</strong>
                      <span class="muted ellipsis">{last ? previewText(last.html) : 'No messages yet'}</span>
                    </span>
                    {unreadIn(s, c.id) ? <span class="badge">{unreadIn(s, c.id)} new</span> : null}
                  </a>
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </div>
  );
}
