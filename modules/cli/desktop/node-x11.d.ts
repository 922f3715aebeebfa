/**
 * The part of the `x11` package (node-x11, pure JavaScript, no types of its own) that the desktop
 * backend uses. Callbacks are Node style; requests without a callback have no reply.
 */
declare module "x11" {
	type Callback<T> = (err: Error | null, value: T) => void;

	export interface XEvent {
		name?: string;
		type: number;
		keycode?: number;
		wid?: number;
		x?: number;
		y?: number;
		rootx?: number;
		rooty?: number;
		buttons?: number;
	}

	export interface XScreen {
		root: number;
		pixel_width: number;
		pixel_height: number;
		white_pixel: number;
		black_pixel: number;
		root_depth: number;
	}

	export interface XTestExt {
		KeyPress: number;
		KeyRelease: number;
		ButtonPress: number;
		ButtonRelease: number;
		MotionNotify: number;
		FakeInput(type: number, detail: number, time: number, wid: number, x: number, y: number): void;
	}

	export interface XineramaExt {
		IsActive(cb: Callback<number>): void;
		QueryScreens(cb: Callback<{ x: number; y: number; width: number; height: number }[]>): void;
	}

	export interface XClient {
		AllocID(): number;
		require(name: "xtest", cb: Callback<XTestExt>): void;
		require(name: "xinerama", cb: Callback<XineramaExt>): void;
		GetKeyboardMapping(first: number, count: number, cb: Callback<number[][]>): void;
		ChangeKeyboardMapping(first: number, perKeycode: number, keysyms: number[]): void;
		SetInputFocus(wid: number, revertTo: number): void;
		GetInputFocus(cb: Callback<{ focus: number; revertTo: number }>): void;
		GrabKey(
			wid: number,
			ownerEvents: number,
			modifiers: number,
			key: number,
			pointerMode: number,
			keyboardMode: number,
		): void;
		UngrabKey(wid: number, key: number, modifiers: number): void;
		CreateWindow(
			wid: number,
			parent: number,
			x: number,
			y: number,
			width: number,
			height: number,
			borderWidth: number,
			depth: number,
			klass: number,
			visual: number,
			values: Record<string, number>,
		): void;
		MapWindow(wid: number): void;
		UnmapWindow(wid: number): void;
		DestroyWindow(wid: number): void;
		ConfigureWindow(wid: number, options: Record<string, number>): void;
		ChangeProperty(
			mode: number,
			wid: number,
			name: number,
			type: number,
			format: number,
			data: string | number[],
		): void;
		CreateGC(cid: number, drawable: number, values: Record<string, number>): void;
		OpenFont(fid: number, name: string): void;
		PolyFillRectangle(drawable: number, gc: number, rects: number[]): void;
		PolyText8(drawable: number, gc: number, x: number, y: number, items: string[]): void;
		atoms: Record<string, number>;
		on(event: "event", listener: (ev: XEvent) => void): void;
		on(event: "error" | "end", listener: (err?: Error) => void): void;
		terminate(): void;
	}

	export interface XDisplay {
		client: XClient;
		screen: XScreen[];
		min_keycode: number;
		max_keycode: number;
	}

	const x11: {
		createClient(
			options: { display?: string },
			cb: (err: Error | null, display: XDisplay) => void,
		): XClient;
		eventMask: Record<string, number>;
	};
	export default x11;
}
