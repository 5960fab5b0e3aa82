// `Producer.prototype.commit`, installed when the addon loads (producer.rs runs this
// script; `dts-header.d.ts` types it). It calls the static `Producer._commitTo` with the
// producer's handle (fetched once per producer with `_handle()` and kept on it), so a
// commit does not pay napi-rs's per-call registration of `this`.
(function (Producer) {
  'use strict'
  const HANDLE = Symbol('modsynclog.producer')
  const commitTo = Producer._commitTo

  function commit(type, data) {
    return commitTo(this[HANDLE] ?? (this[HANDLE] = this._handle()), type, data)
  }

  Object.defineProperty(Producer.prototype, 'commit', { configurable: true, writable: true, value: commit })
})
