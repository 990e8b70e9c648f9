/**
 * The XML side of AWS's Query protocol (IAM, STS): responses are
 * `<ActionResponse xmlns=NS><ActionResult>..</ActionResult><ResponseMetadata>..`,
 * lists are `<Name><member>..</member></Name>`, timestamps ISO 8601 in UTC.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/iam-api.pdf (Common Parameters, Errors)
 */
import type { AwsError } from './errors.js';

/** A value a handler returns; `undefined` members are left out as AWS leaves out unset fields. */
export type XmlValue = string | number | boolean | Date | undefined | XmlValue[] | { [key: string]: XmlValue };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** AWS prints timestamps to the second, without milliseconds. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function toXml(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => toXml('member', v)).join('')}</${name}>`;
  if (value instanceof Date) return `<${name}>${isoSeconds(value.getTime())}</${name}>`;
  if (typeof value === 'object') {
    const inner = Object.entries(value)
      .map(([k, v]) => toXml(k, v))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

export function queryResponse(action: string, namespace: string, result: Record<string, XmlValue> | undefined, requestId: string): string {
  const body = result === undefined ? '' : toXml(`${action}Result`, result);
  return (
    `<${action}Response xmlns="${namespace}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>\n`
  );
}

export function queryError(err: AwsError, namespace: string, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${namespace}"><Error><Type>${err.type}</Type><Code>${escapeXml(err.code)}</Code>` +
    `<Message>${escapeXml(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>\n`
  );
}
