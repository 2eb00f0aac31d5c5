/**
 * meshsim's public API. Types are exported apart from values; everything else under src/
 * is internal and may change without notice.
 */
export type { Clock, Rng, Timers, TimerHandle, Ports } from './core/ports.js';
export type { DistSpec, MixtureComponent } from './core/distribution-spec.js';
export type { Sampler } from './core/distributions.js';
export type { SketchJSON } from './core/quantile-sketch.js';
export type {
  Balancer,
  BalancerDefinition,
  PolicyDefinition,
  AlgorithmFamily,
  Endpoint,
  Health,
  Outcome,
  OutcomeKind,
  PickContext,
} from './algorithms/types.js';
export type { IntervalSample } from './algorithms/monitoring/interval-meter.js';
export type {
  Scenario,
  LoadedScenario,
  Variant,
  ServiceSpec,
  CallSpec,
  WorkloadSpec,
  ArrivalSpec,
  NetworkSpec,
  MeshSpec,
  PolicySpec,
  FailoverSpec,
  RetriesSpec,
  HedgeSpec,
  AssertRule,
  AssertMetric,
  AssertOp,
} from './scenario/types.js';
export type { RunResult, RequestCounts, InstanceStats, LayerStats, FailoverCounts, FaultEffect, FaultRecord } from './sim/metrics.js';
export type { RunOptions, RunOutput, VariantResult, ParallelRunOptions, RunPlan, ExecutedRun, ExecutedPlan } from './runner/run.js';
export type { PlannedRun, ShardSpec } from './runner/plan.js';
export type { WorkerStats } from './runner/pool.js';
export type { RunResultJSON } from './sim/run-result-json.js';
export type { ShardDocument, MergedShards } from './report/shard.js';
export type { Comparison, Pair, ComparedFigure } from './report/compare.js';
export type { SummaryIntervals, VariantComparison, FigureComparison, StatFigure, Interval } from './report/statistics.js';
export type { Report, VariantReport, VariantSummary, Summary, RunSummary, LatencySummary, LayerReport, FaultReport, FaultEffectReport, AssertionResult } from './report/report.js';
export type { LatencyQuantile } from './report/report.js';
export type { Chart, ChartName } from './report/html/specs.js';
export type { HtmlReport, HtmlReportFile, ScenarioText, WriteHtmlOptions } from './report/html/write.js';

export { rngStream, RngStreams, RngBank } from './core/rng.js';
export { makeSampler, distMean, distQuantile, validateDist } from './core/distributions.js';
export { QuantileSketch } from './core/quantile-sketch.js';
export { parseDuration, parseRate, parsePercent, formatDuration, formatRate } from './core/units.js';
export { balancers, balancerKinds, createBalancer, resolveBalancerOptions, registerBalancer, BalancerContractError } from './algorithms/registry.js';
export { loadPlugins, pluginUrls, pluginIdentities, PluginError } from './scenario/plugins.js';
export type { PluginIdentity } from './scenario/plugins.js';
export { RoundRobinBalancer } from './algorithms/balancing/round-robin.js';
export { RandomBalancer } from './algorithms/balancing/random.js';
export { IntervalMeter } from './algorithms/monitoring/interval-meter.js';
export { Sidecar } from './mesh/sidecar.js';
export type { RouterSettings, SidecarPolicies, PolicyContext, MeshPolicySpec } from './mesh/policies.js';
export { createSidecarPolicies, resolveRouter } from './mesh/policies.js';
export type { ProxyConfig, ProxyHandle, ProxyStats, UpstreamSpec, UpstreamStats } from './live/proxy/index.js';
export { startProxy, loadProxyConfig, PROXY_SCHEMA } from './live/proxy/index.js';
export { Engine } from './sim/engine.js';
export { EventQueue } from './sim/event-queue.js';
export { World, simulate, RunLimitError, MAX_IN_FLIGHT } from './sim/world.js';
export { RunStopError, type RunRef } from './core/run-stop.js';
export { loadScenario, parseScenarioText } from './scenario/load.js';
export { printScenario } from './scenario/print.js';
export { parseRule } from './scenario/assert.js';
export { ScenarioError } from './scenario/errors.js';
export { SCENARIO_SCHEMA } from './scenario/types.js';
export { runScenario, runScenarioParallel, executePlan, runPlan, assembleOutput } from './runner/run.js';
export { parseShardSpec, shardRuns } from './runner/plan.js';
export { runResultToJSON, runResultFromJSON } from './sim/run-result-json.js';
export { SHARD_SCHEMA, buildShard, parseShard, readShardFile, mergeShards, ShardError } from './report/shard.js';
export { buildReport, reportJson, REPORT_SCHEMA } from './report/report.js';
export { evaluateAssertions, withAssertions } from './report/assertions.js';
export { tQuantile, tInterval, signFlipPValue, compareRuns } from './report/statistics.js';
export { compareReports, loadReport, COMPARE_SCHEMA } from './report/compare.js';
export { LATENCY_QUANTILES } from './report/report.js';
export { buildCharts, CHART_NAMES } from './report/html/specs.js';
export { buildHtmlReport, writeHtmlReport } from './report/html/write.js';
export { readReport, ReportFileError } from './report/read.js';
export { realClock, RealTimers, realPorts } from './live/realtime.js';
export { VERSION } from './version.js';
