/**
 * Classes that exist for the OpenAPI document only (the controllers return plain objects of the
 * matching interfaces in src/storage/readers.ts). Explicit `type:` everywhere: with isolatedModules the
 * decorator metadata cannot see imported types.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { POLICY_PROTOCOLS, type PolicyDirection, type PolicyProtocol } from '../policy/policy-model.js';
import type { ProbeDirectionResult, ProbeExpectation, ProbeResult, ProbeRule } from '../policy/policy-test.js';
import { ERROR_CODES } from './api-errors.js';

export class ErrorDto {
  @ApiProperty({ type: Number, example: 400 }) statusCode!: number;
  @ApiProperty({ type: String, example: 'Bad Request' }) error!: string;
  @ApiProperty({
    type: String,
    enum: Object.keys(ERROR_CODES),
    example: 'INVALID_PARAMETER',
    description: 'Stable error code (see docs/API.md, "Errors")',
  })
  code!: string;
  @ApiProperty({ type: String, example: 'limit: "0" is not an integer from 1 to 1000' }) message!: string;
}

export class AttributionDto {
  @ApiProperty({ type: String, enum: ['reported', 'inferred', 'unknown'] }) level!: string;
  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Policies that dropped the flow: {kind, namespace, name, action, tier, ruleIndex}',
  })
  policies!: unknown[];
  @ApiPropertyOptional({
    type: [String],
    description: '`ns/name` of the policies isolating the endpoint (inferred level)',
  })
  isolatedBy?: string[];
  @ApiPropertyOptional({ type: String, description: 'A sentence a person can act on' }) reason?: string;
}

export class EndpointDto {
  @ApiProperty({ type: String, enum: ['pod', 'host', 'world', 'service', 'network', 'unknown'] }) kind!: string;
  @ApiPropertyOptional({ type: String }) namespace?: string;
  @ApiPropertyOptional({ type: String }) pod?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: '{kind, name}' }) workload?: object;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } }) labels?: Record<string, string>;
  @ApiPropertyOptional({ type: String }) ip?: string;
}

export class DropItemDto {
  @ApiProperty({ type: String, description: 'Drop event id (stable; use it to refer to this event)' }) id!: string;
  @ApiProperty({ type: String, description: 'The FlowRecord id (Hubble uuid or hash of the Calico record)' })
  flowId!: string;
  @ApiProperty({ type: String, format: 'date-time' }) time!: string;
  @ApiPropertyOptional({ type: String, format: 'date-time' }) endTime?: string;
  @ApiProperty({ type: String, enum: ['hubble', 'calico'] }) source!: string;
  @ApiProperty({ type: String }) cluster!: string;
  @ApiPropertyOptional({ type: String }) node?: string;
  @ApiProperty({ type: String, enum: ['denied', 'dropped', 'audit'] }) verdict!: string;
  @ApiPropertyOptional({ type: String }) dropReason?: string;
  @ApiProperty({ type: String, enum: ['ingress', 'egress', 'unknown'] }) direction!: string;
  @ApiProperty({ type: EndpointDto }) src!: EndpointDto;
  @ApiProperty({ type: EndpointDto }) dst!: EndpointDto;
  @ApiProperty({ type: String }) protocol!: string;
  @ApiPropertyOptional({ type: Number, description: 'Absent for ICMP (see icmpType, icmpCode)' }) dstPort?: number;
  @ApiPropertyOptional({ type: Number, description: 'ICMP only: the message type' }) icmpType?: number;
  @ApiPropertyOptional({ type: Number, description: 'ICMP only: the message code' }) icmpCode?: number;
  @ApiProperty({ type: Number, description: 'Flows this record stands for (Calico num_flows)' }) count!: number;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) policies!: unknown[];
  @ApiProperty({ type: AttributionDto }) attribution!: AttributionDto;
}

export class DropListDto {
  @ApiProperty({ type: [DropItemDto] }) items!: DropItemDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last page',
  })
  nextCursor!: string | null;
}

export class SummaryItemDto {
  @ApiPropertyOptional({ type: String, description: 'by=edge' }) cluster?: string;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'by=edge' }) srcNamespace?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'by=edge' }) srcWorkload?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'by=edge' }) dstNamespace?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'by=edge' }) dstWorkload?: string | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'by=edge (null for ICMP)' })
  dstPort?: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'by=edge: the ICMP type (null otherwise)' })
  icmpType?: number | null;
  @ApiPropertyOptional({ type: String, description: 'by=edge' }) protocol?: string;
  @ApiPropertyOptional({ type: String, description: 'by=edge, by=reason' }) verdict?: string;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'by=policy (null: no policy attributed)' })
  policy?: string | null;
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    description: 'by=namespace, by=workload: the enforcing side (destination for ingress, source for egress)',
  })
  namespace?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'by=workload' }) workload?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'by=reason: the source drop reason' })
  reason?: string | null;
  @ApiProperty({ type: Number, description: 'Flows (Calico num_flows summed)' }) count!: number;
  @ApiProperty({ type: String, format: 'date-time' }) firstSeen!: string;
  @ApiProperty({ type: String, format: 'date-time' }) lastSeen!: string;
}

export class SummaryDto {
  @ApiProperty({ type: String, enum: ['edge', 'policy', 'namespace', 'reason', 'workload'] }) by!: string;
  @ApiProperty({ type: [SummaryItemDto] }) items!: SummaryItemDto[];
}

export class TimeseriesPointDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'Start of the step' }) time!: string;
  @ApiProperty({ type: Number }) count!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'Count per verdict' })
  verdicts!: Record<string, number>;
}

export class TimeseriesDto {
  @ApiProperty({ type: String }) step!: string;
  @ApiProperty({ type: String, format: 'date-time' }) from!: string;
  @ApiProperty({ type: String, format: 'date-time' }) to!: string;
  @ApiProperty({ type: [TimeseriesPointDto] }) items!: TimeseriesPointDto[];
}

export class EdgeEndpointDto {
  @ApiProperty({ type: String }) kind!: string;
  @ApiProperty({ type: String, nullable: true }) namespace!: string | null;
  @ApiProperty({ type: String, nullable: true, description: '`Kind/name`, an aggregated name, or an IP' })
  workload!: string | null;
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: { type: 'string' } })
  labels!: Record<string, string> | null;
}

export class EdgeDto {
  @ApiProperty({ type: String }) cluster!: string;
  @ApiProperty({ type: EdgeEndpointDto }) src!: EdgeEndpointDto;
  @ApiProperty({ type: EdgeEndpointDto }) dst!: EdgeEndpointDto;
  @ApiProperty({ type: Number, nullable: true, description: 'null for ICMP (see icmpType)' }) dstPort!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'ICMP only: the message type (roll-ups keep no ICMP code); null otherwise',
  })
  icmpType!: number | null;
  @ApiProperty({ type: String }) protocol!: string;
  @ApiProperty({ type: String, enum: ['allowed', 'denied', 'dropped', 'audit', 'other'] }) verdict!: string;
  @ApiProperty({ type: [String] }) directions!: string[];
  @ApiProperty({ type: Number }) count!: number;
  @ApiProperty({ type: Number }) packets!: number;
  @ApiProperty({ type: Number }) bytes!: number;
  @ApiProperty({ type: String, format: 'date-time' }) firstSeen!: string;
  @ApiProperty({ type: String, format: 'date-time' }) lastSeen!: string;
}

export class EdgeListDto {
  @ApiProperty({ type: [EdgeDto] }) items!: EdgeDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class PolicyDropsDto {
  @ApiProperty({ type: Number }) count!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) firstSeen!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastSeen!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } }) verdicts!: Record<string, number>;
}

export class PolicyItemDto {
  @ApiProperty({ type: String, description: '`ns/name`, or `name` for cluster-wide policies' }) ref!: string;
  @ApiProperty({ type: String, nullable: true, description: 'null when only known from drops' }) kind!: string | null;
  @ApiProperty({ type: String, nullable: true }) namespace!: string | null;
  @ApiProperty({ type: String }) name!: string;
  @ApiPropertyOptional({ type: String }) tier?: string;
  @ApiProperty({ type: Boolean, description: 'false: named by drops but absent from the inventory' })
  inInventory!: boolean;
  @ApiProperty({ type: PolicyDropsDto }) drops!: PolicyDropsDto;
}

export class PolicyListDto {
  @ApiProperty({ type: [PolicyItemDto] }) items!: PolicyItemDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last page',
  })
  nextCursor!: string | null;
  @ApiPropertyOptional({ type: String, description: 'Why the inventory is empty, when it is' }) note?: string;
  @ApiProperty({ type: String, format: 'date-time' }) from!: string;
  @ApiProperty({ type: String, format: 'date-time' }) to!: string;
}

export class PolicyDetailDto extends PolicyItemDto {
  @ApiProperty({
    type: 'object',
    nullable: true,
    additionalProperties: true,
    description: 'The normalized policy object from the inventory',
  })
  spec!: object | null;
  @ApiProperty({ type: [DropItemDto], description: 'The most recent drop events attributed to the policy' })
  recentDrops!: DropItemDto[];
}

export class ProbeRuleDto implements ProbeRule {
  @ApiProperty({ type: String, description: '`ns/name`, or `name` for a cluster-wide policy' }) policy!: string;
  @ApiProperty({ type: String, enum: ['ingress', 'egress'] }) direction!: PolicyDirection;
  @ApiProperty({ type: Number, description: 'Index of the rule in that direction of the policy' }) ruleIndex!: number;
}

export class ProbeDirectionDto implements ProbeDirectionResult {
  @ApiProperty({ type: Boolean }) allowed!: boolean;
  @ApiProperty({ type: [String], description: 'Policies that select the endpoint in this direction' })
  isolatedBy!: string[];
  @ApiProperty({ type: [String], description: 'Policies with a rule admitting the flow' }) allowedBy!: string[];
  @ApiPropertyOptional({ type: [ProbeRuleDto], description: 'The admitting rules, when any' })
  admittedBy?: ProbeRuleDto[];
  @ApiPropertyOptional({ type: [String], description: 'Explicit deny rules or a Calico end of tier, when any' })
  deniedBy?: string[];
  @ApiPropertyOptional({ type: String, description: 'Why this side denied, as drop attributions say it' })
  reason?: string;
  @ApiPropertyOptional({ type: [String], description: 'Limits of the answer (unmodelled features, hostNetwork)' })
  notes?: string[];
}

export class ProbeResultDto implements ProbeResult {
  @ApiProperty({ type: String, description: 'As given' }) from!: string;
  @ApiPropertyOptional({ type: String, description: 'The pod `from` resolved to, when it was given as an IP' })
  fromPod?: string;
  @ApiProperty({ type: String, description: 'As given' }) to!: string;
  @ApiPropertyOptional({ type: String, description: 'The pod `to` resolved to, when it was given as an IP' })
  toPod?: string;
  @ApiProperty({ type: Number, description: 'The port number (a named port resolved on the destination pod)' })
  port!: number;
  @ApiPropertyOptional({ type: String, description: 'The port name, when the probe named one' }) portName?: string;
  @ApiProperty({ type: String, enum: POLICY_PROTOCOLS }) protocol!: PolicyProtocol;
  @ApiProperty({ type: Boolean, description: 'Both directions allow the flow' }) allowed!: boolean;
  @ApiPropertyOptional({ type: String, enum: ['allow', 'deny'], description: 'As given in the probe' })
  expected?: ProbeExpectation;
  @ApiProperty({ type: ProbeDirectionDto }) egress!: ProbeDirectionDto;
  @ApiProperty({ type: ProbeDirectionDto }) ingress!: ProbeDirectionDto;
}

export class PolicyTestResponseDto {
  @ApiProperty({ type: [ProbeResultDto] }) items!: ProbeResultDto[];
}

/** `true` when A and B have the same field names, optional ones included (`implements` misses absent optional ones). */
type SameFields<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : false;
type Holds<T extends true> = T;
/** Compiles only while the documented probe results have exactly the engine's fields (src/policy/policy-test.ts). */
export type ProbeDtosMatchEngine = [
  Holds<SameFields<ProbeResultDto, ProbeResult>>,
  Holds<SameFields<ProbeDirectionDto, ProbeDirectionResult>>,
  Holds<SameFields<ProbeRuleDto, ProbeRule>>,
];
