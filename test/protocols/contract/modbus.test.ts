// The Poller contract against every Modbus implementation: native Modbus TCP, the modbus-serial
// library client, RTU over TCP (all against the bundled tank PLC simulator) and serial RTU (the
// same PLC behind a socat pty pair).
import { pollerContract } from './poller.contract.js';
import { serialPlc, simulatedPlc } from './modbus-devices.js';

pollerContract('Modbus TCP, native client, tank PLC simulator', () => simulatedPlc('tcp', 'native'));
pollerContract('Modbus TCP, modbus-serial client, tank PLC simulator', () => simulatedPlc('tcp', 'modbus-serial'));
pollerContract('Modbus RTU over TCP, tank PLC simulator', () => simulatedPlc('rtu_over_tcp'));
pollerContract('Modbus RTU on a serial line (socat pty pair), tank PLC', () => serialPlc());
