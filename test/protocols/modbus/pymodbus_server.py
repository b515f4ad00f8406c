# A Modbus server we did not write (pymodbus 3.0), for interoperability tests of the poller.
# Usage: python3 pymodbus_server.py --port N [--framer socket|rtu] | --serial PATH (19200 8N1; a pty takes no parity)
# Known values (zero-based addresses):
#   holding registers 0..9 = 100..109; 10..11 = float32 123.456 (ABCD); 12..13 = int32 -2 (ABCD)
#   input registers 0..9 = 200..209; coils 0..15 = every third on; discrete inputs 0..15 = odd on
#   device identification: vendor, product code, revision, url, product name, model name
import argparse
import asyncio
import struct
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.device import ModbusDeviceIdentification
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer


def registers():
    hr = list(range(100, 110))
    hr += list(struct.unpack(">HH", struct.pack(">f", 123.456)))
    hr += list(struct.unpack(">HH", struct.pack(">i", -2)))
    hr += [0] * 50
    ir = list(range(200, 210)) + [0] * 50
    co = [i % 3 == 0 for i in range(64)]
    di = [i % 2 == 1 for i in range(64)]
    return hr, ir, co, di


def context():
    hr, ir, co, di = registers()
    slave = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, di),
        co=ModbusSequentialDataBlock(0, co),
        hr=ModbusSequentialDataBlock(0, hr),
        ir=ModbusSequentialDataBlock(0, ir),
        zero_mode=True,
    )
    return ModbusServerContext(slaves=slave, single=True)


def identity():
    ident = ModbusDeviceIdentification(
        info_name={
            "VendorName": "PyModbus Test Vendor",
            "ProductCode": "PM-1",
            "VendorUrl": "https://example.invalid/pymodbus",
            "ProductName": "Interop Server",
            "ModelName": "Model 3000",
            "MajorMinorRevision": "3.0.0",
        }
    )
    return ident


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--framer", choices=["socket", "rtu"], default="socket")
    ap.add_argument("--serial")
    args = ap.parse_args()
    if args.serial:
        await StartAsyncSerialServer(
            context=context(), identity=identity(), framer=ModbusRtuFramer, port=args.serial, baudrate=19200, bytesize=8, parity="N", stopbits=1, timeout=0.05
        )
    else:
        framer = ModbusRtuFramer if args.framer == "rtu" else ModbusSocketFramer
        await StartAsyncTcpServer(context=context(), identity=identity(), address=("127.0.0.1", args.port), framer=framer, allow_reuse_address=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
