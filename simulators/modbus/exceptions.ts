// Modbus exception codes and the exception response PDU (function code | 0x80, code).

export const EX_ILLEGAL_FUNCTION = 0x01;
export const EX_ILLEGAL_DATA_ADDRESS = 0x02;
export const EX_ILLEGAL_DATA_VALUE = 0x03;
export const EX_SERVER_DEVICE_FAILURE = 0x04;

export function exceptionPdu(functionCode: number, code: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b[0] = (functionCode | 0x80) & 0xff;
  b[1] = code;
  return b;
}

export function isException(pdu: Buffer): boolean {
  return pdu.length === 2 && (pdu[0] & 0x80) !== 0;
}
