/** Moved to the test kit (src/testing/fake-clock.ts); this re-export stays until src/protocol/mqtt/testing/raw-mqtt.ts imports it there. */
export { FakeClock } from '../../testing/fake-clock.ts'
