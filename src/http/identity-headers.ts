// Internal headers the Worker sets on the upgrade it forwards to a DeviceObject, after it has
// authenticated the request. The Worker builds them fresh, so a client cannot inject them.
export const IDENTITY_HEADERS = {
  device: "x-supie-device-id",
  client: "x-supie-client-id",
  protocol: "x-supie-protocol-version",
  assigned: "x-supie-assigned-id",
  method: "x-supie-auth-method",
} as const;
