// GrowthKit for React: <GrowthKitProvider config={…}> starts the tracker once, and
// useGrowthKit() hands components a stable track() plus completeAction() and credits.
import { createContext, createElement, useContext, useEffect, useMemo, useState } from 'react';
import { completeAction, flush, init, track } from './growthkit.js';

const Context = createContext(null);

// Outside a provider the hook still works (tracking starts wherever init() is called).
const standalone = { track, flush, completeAction, credits: null };

export function GrowthKitProvider({ config, children }) {
  const [credits, setCredits] = useState(null);
  // init() is idempotent and a no-op during server rendering; events tracked by children's
  // effects before this effect runs are queued by the tracker, not lost.
  useEffect(() => {
    init(config);
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  const complete = useMemo(() => (action, options) =>
    completeAction(action, options).then((result) => {
      setCredits(result.balance);
      return result;
    }), []);
  const value = useMemo(() => ({ track, flush, completeAction: complete, credits }),
    [complete, credits]);
  return createElement(Context.Provider, { value }, children);
}

/** `{track, flush, completeAction, credits}`; `track` keeps its identity across renders. */
export function useGrowthKit() {
  return useContext(Context) || standalone;
}
