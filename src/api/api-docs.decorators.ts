/** OpenAPI decorators shared by the API controllers. */
import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiForbiddenResponse, ApiQuery, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorDto } from './api.dto.js';
import { ALL_VERDICTS, ATTRIBUTION_LEVELS, DIRECTION_VALUES, DROP_VERDICTS } from './drop-filters.js';
import { TIME_FORM } from './query-params.js';

export function ApiErrors(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBadRequestResponse({
      type: ErrorDto,
      description: 'Bad input: the message names the parameter and the expected form',
    }),
    ApiUnauthorizedResponse({ type: ErrorDto, description: 'Missing or invalid bearer token' }),
    ApiForbiddenResponse({ type: ErrorDto, description: 'The token lacks the scope this operation needs' }),
  );
}

export function TimeRangeQueries(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'from',
      required: false,
      type: String,
      description: `Start (inclusive): ${TIME_FORM}. Default: to - 24h`,
    }),
    ApiQuery({ name: 'to', required: false, type: String, description: `End (exclusive): ${TIME_FORM}. Default: now` }),
  );
}

/** The filters of the drop endpoints (`flows=true`: any verdict). */
export function FilterQueries(opts: { flows?: boolean; pods?: boolean } = {}): MethodDecorator & ClassDecorator {
  const verdicts = opts.flows ? ALL_VERDICTS : DROP_VERDICTS;
  const q = (name: string, description: string) => ApiQuery({ name, required: false, type: String, description });
  return applyDecorators(
    TimeRangeQueries(),
    q('cluster', 'Cluster name'),
    q('namespace', 'Namespace on either side'),
    q('srcNamespace', 'Source namespace'),
    q('dstNamespace', 'Destination namespace'),
    q('workload', 'Workload on either side: `Kind/name` (Deployment/frontend), or a bare name matching any kind'),
    q('srcWorkload', 'Source workload (`Kind/name` or bare name)'),
    q('dstWorkload', 'Destination workload (`Kind/name` or bare name)'),
    q(
      'pod',
      opts.pods
        ? 'Pod name on either side'
        : 'Not available here (roll-ups are per workload): a 400 says so; use GET /api/v1/drops?pod=',
    ),
    q('policy', 'Attributed policy: `namespace/name`, or `name` for a cluster-wide policy'),
    q('reason', 'The source drop reason, e.g. POLICY_DENIED, POLICY_DENY'),
    ApiQuery({
      name: 'direction',
      required: false,
      type: String,
      description: `Comma-separated: ${DIRECTION_VALUES.join('|')}`,
    }),
    ApiQuery({
      name: 'verdict',
      required: false,
      type: String,
      description: `Comma-separated: ${verdicts.join('|')}. Default: all of them`,
    }),
    ApiQuery({
      name: 'attribution',
      required: false,
      type: String,
      description: `Attribution level, comma-separated: ${ATTRIBUTION_LEVELS.join('|')}`,
    }),
  );
}
