// The React UMD build (loaded by a classic <script>) as an ES module, for the import map.
const React = window.React;
export default React;
export const {
  Children, Component, Fragment, StrictMode, createContext, createElement, forwardRef, memo,
  useCallback, useContext, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState,
} = React;
