/**
 * Test fixture: sfbroker 0.1.0's storage encoders (format 1), frozen, and a planter of 0.1.0 stores for every
 * adapter. Tests import it to check that stores written by 0.1.0 open with nothing lost (issue #13 §2).
 */
export * from './journal-v1.ts'
export * from './level-v1.ts'
export { plantV1Store, type PlantV1Options, type V1Adapter } from './plant-v1.ts'
