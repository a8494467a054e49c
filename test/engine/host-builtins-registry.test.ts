// The compiler's host built-in declarations and the engine's implementations stay in step.
import { HOST_ALIASES, SDK_BUILTINS, TETHER_HOST_BUILTINS } from '../../src/compiler/builtins/host-decls';
import { builtinArity, isHostBuiltin } from '../../src/compiler/builtins/catalog';
import { nativeBuiltins } from '../../src/compiler/builtins/native';
import { HOST_BUILTINS, makeHostBuiltins } from '../../src/engine/builtins';

describe('host built-in registry', () => {
  test('every declared host built-in is implemented with the declared arity', () => {
    for (const [name, arity] of Object.entries(TETHER_HOST_BUILTINS)) {
      expect({ name, arity: HOST_BUILTINS[name]?.arity }).toEqual({ name, arity });
    }
  });

  test('every implementation is declared, so the compiler accepts calls to it', () => {
    for (const name of Object.keys(HOST_BUILTINS)) expect({ name, declared: name in TETHER_HOST_BUILTINS }).toEqual({ name, declared: true });
  });

  test('built-ins the SDK shadows are registered under their alias too', () => {
    const { builtins } = makeHostBuiltins();
    for (const [name, alias] of Object.entries(HOST_ALIASES)) {
      expect(typeof builtins[alias]).toBe('function');
      expect(name in SDK_BUILTINS).toBe(true);
    }
    expect(builtins['tether.sprintf']('%v', [[1, 2]])).toBe('[1, 2]');
  });

  test('the catalog prefers native built-ins and knows host ones', () => {
    expect(builtinArity('count')).toBe(nativeBuiltins.get('count')!.arity);
    expect(isHostBuiltin('count')).toBe(false);
    expect(builtinArity('glob.match')).toBe(3);
    expect(isHostBuiltin('glob.match')).toBe(true);
    expect(isHostBuiltin('lower')).toBe(true); // native with a host fallback for non-ASCII
    expect(builtinArity('http.send')).toBeUndefined();
  });
});
