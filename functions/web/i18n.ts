/**
 * The pages' texts in English and German. The server renders the static text into the HTML and
 * hands the same dictionary to the page's script as a JSON data block, so the client bundle holds
 * no language of its own and both sides always agree.
 */

/** Languages the pages speak; the first is the fallback. */
export const LANGS = ["en", "de"] as const;
export type Lang = (typeof LANGS)[number];

const en = {
	"app.name": "Fernwart",
	"lang.switch": "Deutsch",
	"lang.other": "de",
	"nav.console": "Support console",
	"nav.admin": "Administration",
	"nav.join": "Join a session",
	"nav.logout": "Log out",
	skip: "Skip to content",
	"home.title": "Remote support",
	"home.customer": "I need help: join with my support ID",
	"home.supporter": "I am a supporter: log in",

	"login.title": "Log in",
	"login.email": "E-mail address",
	"login.password": "Password",
	"login.totp": "Authenticator code (if enabled)",
	"login.submit": "Log in",
	"login.failed": "Login failed: e-mail address or password is wrong.",
	"login.totpRequired": "Enter the code from your authenticator app.",
	"login.rateLimited": "Too many attempts. Please wait a few minutes.",

	"join.title": "Join a support session",
	"join.intro":
		"Your supporter gave you an 8-digit support ID. Nothing is installed on your computer.",
	"join.code": "Support ID (8 digits)",
	"join.name": "Your name",
	"join.submit": "Connect",
	"join.notFound": "This support ID is unknown, expired or was used already.",
	"join.terms": "Support terms",
	"join.termsAccept": "I have read and accept the support terms.",
	"join.termsSubmit": "Accept and continue",
	"join.termsDecline": "Decline and leave",
	"join.connecting": "Connecting to your supporter…",
	"join.sas": "Security code",
	"join.sasHint": "Your supporter sees the same code. If it differs, press STOP.",
	"join.share": "Share my screen",
	"join.shareHint":
		"Your browser asks what to share: a window, a whole screen or a browser tab. Only what you choose is shown.",
	"join.shareStop": "Stop sharing",
	"join.sharing": "You are sharing your screen.",
	"join.viewing": "Your supporter is viewing your screen.",
	"join.controlling":
		"Your supporter has control: their pointer is shown on your screen as a marker.",
	"join.stop": "STOP",
	"join.stopHint": "Ends the session at once (Alt+Shift+S)",
	"join.ended": "The session has ended. You can close this page.",
	"join.stopped": "You stopped the session. Nothing is shared any more.",
	"join.ask.control":
		"Your supporter asks for remote control. They can then point on your shared screen. Allow?",
	"join.ask.view": "Your supporter asks to see your screen. Allow?",
	"join.ask.file": "Your supporter offers a file: {name} ({size}). Accept?",
	"join.allow": "Allow",
	"join.deny": "Deny",
	"join.revoke": "Take back control",
	"join.shareFailed": "Screen sharing was cancelled or is not available in this browser.",
	"join.peerScreen": "Your supporter's screen",

	"console.title": "Support console",
	"console.issue": "Issue a support ID",
	"console.code": "Support ID",
	"console.copy": "Copy",
	"console.copied": "Copied",
	"console.expires": "Valid for {time}",
	"console.expired": "This support ID has expired. Issue a new one.",
	"console.waiting": "Give this ID to your customer. They open {url} and type it in.",
	"console.joined": "Customer connected: {name}",
	"console.sas": "Security code",
	"console.sasHint": "Ask the customer to read out their code; it must match.",
	"console.terms": "Waiting for the customer to accept the terms…",
	"console.noScreen": "Waiting for the customer to share their screen…",
	"console.requestView": "Ask to see the screen",
	"console.requestControl": "Request control",
	"console.shareOwn": "Show my screen instead",
	"console.showing": "You are showing your screen to the customer.",
	"console.controlNote":
		"A browser customer cannot be controlled at the operating-system level. With control granted, your pointer and clicks appear as annotations on the customer's screen.",
	"console.controlGranted": "Control granted: move and click on the screen to point.",
	"console.controlDenied": "The customer declined control.",
	"console.end": "End session",
	"console.endedBy.stopped": "The customer pressed STOP. The session has ended.",
	"console.endedBy.ended": "The session has ended.",
	"console.endedBy.expired": "The session has expired.",
	"console.comment": "Comment for the protocol",
	"console.commentSend": "Add comment",
	"console.screen": "Customer's screen",
	"console.hosts": "Hosts",
	"console.hostsNone": "No unattended hosts are enrolled yet.",
	"console.ask.file": "The customer offers a file: {name} ({size}). Accept?",
	"console.hostTitle": "Screen of {name}",

	"files.title": "Files",
	"files.pick": "Choose files to send",
	"files.drop": "or drop files here",
	"files.hint": "The other side must accept each file. Files travel end-to-end encrypted.",
	"files.accept": "Accept",
	"files.reject": "Reject",
	"files.out": "You send",
	"files.in": "You receive",
	"files.notReady": "Files can be sent once the session is active.",
	"files.download": "Download",
	"files.status.hashing": "Computing the checksum…",
	"files.status.waiting": "Waiting for the other side to accept",
	"files.status.sending": "Sending",
	"files.status.sent": "Sent",
	"files.status.rejected": "The other side rejected this file.",
	"files.status.receiving": "Receiving",
	"files.status.received": "Received; size and SHA-256 checksum verified.",
	"files.status.declined": "You rejected this file.",
	"files.status.corrupt":
		"Checksum mismatch: the file was damaged or altered and has been discarded.",
	"files.status.failed": "The transfer failed.",
	"files.status.tooLarge": "Too large: at most {max} per file.",

	"hosts.name": "Name",
	"hosts.group": "Group",
	"hosts.platform": "Platform",
	"hosts.state": "State",
	"hosts.lastSeen": "Last seen",
	"hosts.online": "Online",
	"hosts.offline": "Offline",
	"hosts.never": "never",
	"hosts.connect": "Connect",
	"hosts.connectTo": "Connect to {name}",
	"hosts.connecting": "Connecting to {name}…",
	"hosts.pinned": "First connection to {name}: its identity key is now pinned in this browser.",
	"hosts.keyChanged":
		"THE IDENTITY KEY OF HOST {name} HAS CHANGED. Pinned: {pinned}. Presented: {presented}. Someone may be impersonating the host, or it was enrolled again. Not connecting. Only if an administrator confirms a new enrolment, remove the pinned key by clearing this site's stored data in the browser.",
	"hosts.badSignature":
		"Host {name} could not prove its identity (its signature does not verify). Not connecting.",
	"hosts.password": "Remote-maintenance password of {name}",
	"hosts.passwordHint":
		"The host checks the password itself, inside the encrypted session; the server never sees it.",
	"hosts.unlock": "Unlock",
	"hosts.cancel": "Cancel",
	"hosts.waiting": "Waiting for the host…",
	"hosts.deriving": "Checking the password… {percent} %",
	"hosts.refused": "The host refused the password. Try again.",
	"hosts.locked":
		"The host is locked after repeated wrong passwords. Try again in {time}. The session has ended.",
	"hosts.accepted": "Password accepted. Connected to {name}.",
	"hosts.noScreen": "Waiting for the host's screen…",
	"chat.peer.host": "Host",

	"chat.title": "Chat",
	"chat.message": "Message",
	"chat.send": "Send",
	"chat.you": "You",
	"chat.peer.supporter": "Supporter",
	"chat.peer.customer": "Customer",

	"admin.title": "Administration",
	"admin.users": "Users",
	"admin.userEmail": "E-mail address",
	"admin.userName": "Display name",
	"admin.userRole": "Role",
	"admin.userPassword": "Initial password (12 characters or more)",
	"admin.userCreate": "Create user",
	"admin.userCreated": "User created.",
	"admin.userDisabled": "disabled",
	"admin.settings": "Settings",
	"admin.termsText": "Support terms shown to customers",
	"admin.requireTerms": "Customers must accept the terms",
	"admin.defaultView": "Default view direction",
	"admin.viewCustomer": "The customer shows their screen",
	"admin.viewSupporter": "The supporter shows their screen",
	"admin.codeTtl": "Support ID valid for (minutes)",
	"admin.requireTotp": "Require a second factor (TOTP) for every user",
	"admin.save": "Save settings",
	"admin.saved": "Settings saved.",
	"admin.sessions": "Live sessions",
	"admin.sessionsNone": "No live sessions.",
	"admin.sessionEnd": "End",
	"admin.sessionCustomer": "Customer",
	"admin.sessionState": "State",
	"admin.sessionCreated": "Issued",
	"admin.forbidden": "Only administrators can use this page.",

	"error.generic": "Something went wrong: {message}",
	"error.network": "The server cannot be reached.",
};

/** The keys every language defines; a missing German text is a type error. */
export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

const de: Messages = {
	"app.name": "Fernwart",
	"lang.switch": "English",
	"lang.other": "en",
	"nav.console": "Support-Konsole",
	"nav.admin": "Verwaltung",
	"nav.join": "Sitzung beitreten",
	"nav.logout": "Abmelden",
	skip: "Zum Inhalt springen",
	"home.title": "Fernwartung",
	"home.customer": "Ich brauche Hilfe: mit meiner Support-ID beitreten",
	"home.supporter": "Ich bin Supporter: anmelden",

	"login.title": "Anmelden",
	"login.email": "E-Mail-Adresse",
	"login.password": "Passwort",
	"login.totp": "Code aus der Authenticator-App (falls aktiviert)",
	"login.submit": "Anmelden",
	"login.failed": "Anmeldung fehlgeschlagen: E-Mail-Adresse oder Passwort ist falsch.",
	"login.totpRequired": "Bitte den Code aus der Authenticator-App eingeben.",
	"login.rateLimited": "Zu viele Versuche. Bitte einige Minuten warten.",

	"join.title": "Einer Support-Sitzung beitreten",
	"join.intro":
		"Ihr Supporter hat Ihnen eine 8-stellige Support-ID genannt. Auf Ihrem Computer wird nichts installiert.",
	"join.code": "Support-ID (8 Ziffern)",
	"join.name": "Ihr Name",
	"join.submit": "Verbinden",
	"join.notFound": "Diese Support-ID ist unbekannt, abgelaufen oder wurde schon verwendet.",
	"join.terms": "Nutzungsbedingungen",
	"join.termsAccept": "Ich habe die Nutzungsbedingungen gelesen und akzeptiere sie.",
	"join.termsSubmit": "Akzeptieren und fortfahren",
	"join.termsDecline": "Ablehnen und verlassen",
	"join.connecting": "Verbindung zu Ihrem Supporter wird aufgebaut…",
	"join.sas": "Sicherheitscode",
	"join.sasHint": "Ihr Supporter sieht denselben Code. Weicht er ab, drücken Sie STOPP.",
	"join.share": "Bildschirm freigeben",
	"join.shareHint":
		"Ihr Browser fragt, was freigegeben wird: ein Fenster, ein ganzer Bildschirm oder ein Browser-Tab. Nur Ihre Auswahl wird gezeigt.",
	"join.shareStop": "Freigabe beenden",
	"join.sharing": "Sie geben Ihren Bildschirm frei.",
	"join.viewing": "Ihr Supporter sieht Ihren Bildschirm.",
	"join.controlling":
		"Ihr Supporter hat die Steuerung: sein Mauszeiger wird auf Ihrem Bildschirm als Markierung gezeigt.",
	"join.stop": "STOPP",
	"join.stopHint": "Beendet die Sitzung sofort (Alt+Umschalt+S)",
	"join.ended": "Die Sitzung ist beendet. Sie können diese Seite schließen.",
	"join.stopped": "Sie haben die Sitzung beendet. Es wird nichts mehr übertragen.",
	"join.ask.control":
		"Ihr Supporter bittet um die Fernsteuerung. Er kann dann auf Ihrem freigegebenen Bildschirm zeigen. Erlauben?",
	"join.ask.view": "Ihr Supporter möchte Ihren Bildschirm sehen. Erlauben?",
	"join.ask.file": "Ihr Supporter bietet eine Datei an: {name} ({size}). Annehmen?",
	"join.allow": "Erlauben",
	"join.deny": "Ablehnen",
	"join.revoke": "Steuerung zurücknehmen",
	"join.shareFailed":
		"Die Bildschirmfreigabe wurde abgebrochen oder ist in diesem Browser nicht verfügbar.",
	"join.peerScreen": "Bildschirm Ihres Supporters",

	"console.title": "Support-Konsole",
	"console.issue": "Support-ID erzeugen",
	"console.code": "Support-ID",
	"console.copy": "Kopieren",
	"console.copied": "Kopiert",
	"console.expires": "Gültig für {time}",
	"console.expired": "Diese Support-ID ist abgelaufen. Bitte eine neue erzeugen.",
	"console.waiting": "Geben Sie diese ID Ihrem Kunden. Er öffnet {url} und gibt sie ein.",
	"console.joined": "Kunde verbunden: {name}",
	"console.sas": "Sicherheitscode",
	"console.sasHint": "Lassen Sie sich den Code des Kunden vorlesen; er muss übereinstimmen.",
	"console.terms": "Warten, bis der Kunde die Nutzungsbedingungen akzeptiert…",
	"console.noScreen": "Warten, bis der Kunde seinen Bildschirm freigibt…",
	"console.requestView": "Bildschirm anfragen",
	"console.requestControl": "Steuerung anfragen",
	"console.shareOwn": "Stattdessen meinen Bildschirm zeigen",
	"console.showing": "Sie zeigen dem Kunden Ihren Bildschirm.",
	"console.controlNote":
		"Ein Kunde im Browser kann nicht auf Betriebssystemebene gesteuert werden. Mit erteilter Steuerung erscheinen Ihr Zeiger und Ihre Klicks als Markierungen auf dem Bildschirm des Kunden.",
	"console.controlGranted":
		"Steuerung erteilt: bewegen und klicken Sie auf dem Bildschirm, um zu zeigen.",
	"console.controlDenied": "Der Kunde hat die Steuerung abgelehnt.",
	"console.end": "Sitzung beenden",
	"console.endedBy.stopped": "Der Kunde hat STOPP gedrückt. Die Sitzung ist beendet.",
	"console.endedBy.ended": "Die Sitzung ist beendet.",
	"console.endedBy.expired": "Die Sitzung ist abgelaufen.",
	"console.comment": "Kommentar für das Protokoll",
	"console.commentSend": "Kommentar hinzufügen",
	"console.screen": "Bildschirm des Kunden",
	"console.hosts": "Rechner",
	"console.hostsNone": "Noch keine unbeaufsichtigten Rechner eingerichtet.",
	"console.ask.file": "Der Kunde bietet eine Datei an: {name} ({size}). Annehmen?",
	"console.hostTitle": "Bildschirm von {name}",

	"files.title": "Dateien",
	"files.pick": "Dateien zum Senden wählen",
	"files.drop": "oder Dateien hierher ziehen",
	"files.hint":
		"Die Gegenseite muss jede Datei annehmen. Dateien werden Ende-zu-Ende-verschlüsselt übertragen.",
	"files.accept": "Annehmen",
	"files.reject": "Ablehnen",
	"files.out": "Sie senden",
	"files.in": "Sie empfangen",
	"files.notReady": "Dateien können gesendet werden, sobald die Sitzung aktiv ist.",
	"files.download": "Herunterladen",
	"files.status.hashing": "Prüfsumme wird berechnet…",
	"files.status.waiting": "Wartet auf Annahme durch die Gegenseite",
	"files.status.sending": "Wird gesendet",
	"files.status.sent": "Gesendet",
	"files.status.rejected": "Die Gegenseite hat diese Datei abgelehnt.",
	"files.status.receiving": "Wird empfangen",
	"files.status.received": "Empfangen; Größe und SHA-256-Prüfsumme bestätigt.",
	"files.status.declined": "Sie haben diese Datei abgelehnt.",
	"files.status.corrupt":
		"Prüfsumme stimmt nicht: Die Datei wurde beschädigt oder verändert und verworfen.",
	"files.status.failed": "Die Übertragung ist fehlgeschlagen.",
	"files.status.tooLarge": "Zu groß: höchstens {max} pro Datei.",

	"hosts.name": "Name",
	"hosts.group": "Gruppe",
	"hosts.platform": "Plattform",
	"hosts.state": "Status",
	"hosts.lastSeen": "Zuletzt gesehen",
	"hosts.online": "Online",
	"hosts.offline": "Offline",
	"hosts.never": "nie",
	"hosts.connect": "Verbinden",
	"hosts.connectTo": "Mit {name} verbinden",
	"hosts.connecting": "Verbindung zu {name} wird aufgebaut…",
	"hosts.pinned":
		"Erste Verbindung zu {name}: Sein Identitätsschlüssel ist jetzt in diesem Browser hinterlegt.",
	"hosts.keyChanged":
		"DER IDENTITÄTSSCHLÜSSEL VON RECHNER {name} HAT SICH GEÄNDERT. Hinterlegt: {pinned}. Vorgelegt: {presented}. Jemand könnte sich als dieser Rechner ausgeben, oder er wurde neu eingerichtet. Es wird keine Verbindung aufgebaut. Nur wenn ein Administrator die Neueinrichtung bestätigt, entfernen Sie den hinterlegten Schlüssel, indem Sie die gespeicherten Daten dieser Website im Browser löschen.",
	"hosts.badSignature":
		"Rechner {name} konnte seine Identität nicht nachweisen (Signatur ungültig). Es wird keine Verbindung aufgebaut.",
	"hosts.password": "Fernwartungspasswort von {name}",
	"hosts.passwordHint":
		"Der Rechner prüft das Passwort selbst, innerhalb der verschlüsselten Sitzung; der Server sieht es nie.",
	"hosts.unlock": "Entsperren",
	"hosts.cancel": "Abbrechen",
	"hosts.waiting": "Warten auf den Rechner…",
	"hosts.deriving": "Passwort wird geprüft… {percent} %",
	"hosts.refused": "Der Rechner hat das Passwort abgelehnt. Bitte erneut versuchen.",
	"hosts.locked":
		"Der Rechner ist nach wiederholt falschen Passwörtern gesperrt. Erneut versuchen in {time}. Die Sitzung ist beendet.",
	"hosts.accepted": "Passwort akzeptiert. Verbunden mit {name}.",
	"hosts.noScreen": "Warten auf den Bildschirm des Rechners…",
	"chat.peer.host": "Rechner",

	"chat.title": "Chat",
	"chat.message": "Nachricht",
	"chat.send": "Senden",
	"chat.you": "Sie",
	"chat.peer.supporter": "Supporter",
	"chat.peer.customer": "Kunde",

	"admin.title": "Verwaltung",
	"admin.users": "Benutzer",
	"admin.userEmail": "E-Mail-Adresse",
	"admin.userName": "Anzeigename",
	"admin.userRole": "Rolle",
	"admin.userPassword": "Anfangspasswort (mindestens 12 Zeichen)",
	"admin.userCreate": "Benutzer anlegen",
	"admin.userCreated": "Benutzer angelegt.",
	"admin.userDisabled": "gesperrt",
	"admin.settings": "Einstellungen",
	"admin.termsText": "Nutzungsbedingungen für Kunden",
	"admin.requireTerms": "Kunden müssen die Bedingungen akzeptieren",
	"admin.defaultView": "Standard-Blickrichtung",
	"admin.viewCustomer": "Der Kunde zeigt seinen Bildschirm",
	"admin.viewSupporter": "Der Supporter zeigt seinen Bildschirm",
	"admin.codeTtl": "Support-ID gültig für (Minuten)",
	"admin.requireTotp": "Zweiten Faktor (TOTP) für alle Benutzer verlangen",
	"admin.save": "Einstellungen speichern",
	"admin.saved": "Einstellungen gespeichert.",
	"admin.sessions": "Laufende Sitzungen",
	"admin.sessionsNone": "Keine laufenden Sitzungen.",
	"admin.sessionEnd": "Beenden",
	"admin.sessionCustomer": "Kunde",
	"admin.sessionState": "Status",
	"admin.sessionCreated": "Erzeugt",
	"admin.forbidden": "Nur Administratoren können diese Seite verwenden.",

	"error.generic": "Etwas ist schiefgegangen: {message}",
	"error.network": "Der Server ist nicht erreichbar.",
};

const MESSAGES: Record<Lang, Messages> = { en, de };

/** The dictionary of `lang`. */
export function messages(lang: Lang): Messages {
	return MESSAGES[lang];
}

function isLang(value: string | undefined): value is Lang {
	return value !== undefined && (LANGS as readonly string[]).includes(value);
}

/**
 * The page language: an explicit `?lang=` first, then the switch's cookie, then the first
 * supported language in `Accept-Language` (quality values respected), else English.
 */
export function pickLang(query?: string, cookie?: string, acceptLanguage?: string): Lang {
	if (isLang(query)) return query;
	if (isLang(cookie)) return cookie;
	const ranked = (acceptLanguage ?? "")
		.split(",")
		.map((part, index) => {
			const [tag = "", ...params] = part.trim().split(";");
			const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
			return { lang: tag.toLowerCase().split("-")[0], q: q ? Number(q) : 1, index };
		})
		.filter((entry) => entry.q > 0)
		.sort((a, b) => b.q - a.q || a.index - b.index);
	return ranked.map((entry) => entry.lang).find(isLang) ?? "en";
}
