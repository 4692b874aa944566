// A typed usage example of the tracker and its React bindings; `tsc --noEmit -p tracker`
// checks it (tests/browser/test_types.py). The @ts-expect-error lines must stay errors.
import { createElement, useEffect } from 'react';
import {
  type ActionResult,
  type GrowthKitConfig,
  type GrowthKitError,
  completeAction,
  fingerprint,
  flush,
  init,
  track,
} from './growthkit.js';
import { GrowthKitProvider, useGrowthKit } from './react.js';

const config: GrowthKitConfig = {
  publicKey: 'pk_live_123',
  apiUrl: 'https://gk.example.com',
  fingerprint: () => Promise.resolve('visitor-42'),
  batchSize: 10,
  flushInterval: 30_000,
  autoPageViews: true,
  debug: true,
};
init(config);
track('signup_completed', { method: 'email', plan: { name: 'pro', seats: 3 }, tags: ['a'] });
track('page_viewed');
flush().then(() => undefined);
fingerprint().then((id: string) => id.length);

async function spend(): Promise<number> {
  try {
    const result: ActionResult = await completeAction('export', { id: 'op-1' });
    return result.operation.balanceAfter === result.balance ? result.balance : -1;
  } catch (e) {
    return (e as GrowthKitError).status === 409 ? 0 : -1;
  }
}
void spend();

function ExportButton() {
  const { track: trackEvent, completeAction: complete, credits } = useGrowthKit();
  useEffect(() => trackEvent('export_viewed'), [trackEvent]);
  const label: string = credits === null ? 'Export' : `Export (${credits} credits)`;
  return createElement('button', { onClick: () => complete('export') }, label);
}
export const app = createElement(GrowthKitProvider, { config }, createElement(ExportButton));

// @ts-expect-error the event name must be a string
track(42);
// @ts-expect-error properties are an object, not a string
track('clicked', 'button');
// @ts-expect-error properties hold JSON values, not functions
track('clicked', { handler: () => 1 });
// @ts-expect-error publicKey is required
init({ apiUrl: 'https://gk.example.com' });
// @ts-expect-error batchSize is a number
init({ publicKey: 'pk_1', batchSize: '10' });
