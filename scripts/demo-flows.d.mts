export declare const DEMO_SERVER_ID: string;

export interface DemoFlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  [key: string]: unknown;
}

export declare function demoFlows(opts: {
  simPort: number;
  mqttPort?: number;
  username?: string;
  password?: string;
  examplesDir?: string;
}): { flows: DemoFlowNode[]; credentials: Record<string, { username: string; password: string }> };
