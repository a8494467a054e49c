// The one WebAssembly global Tether's code names. Node provides WebAssembly, but TypeScript's ES2022
// lib (no DOM) does not declare it, and this is all the engine needs: a compiled module handed from a
// worker thread to the serving thread (./off-thread.ts) and on to the SDK.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
}
